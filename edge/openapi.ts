/**
 * The OpenAPI document (`GET /openapi.json`) beyond what each route declares:
 * its front matter (servers, tags, security schemes) and the one place every
 * operation gets its `operationId`. The committed copy in sdk/openapi.json is
 * what the SDK is generated from; test/edge/openapi.test.ts holds the two equal.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { securitySchemes } from "./audiences.ts";
import type { AppEnv } from "./env.ts";

const TAGS: Record<string, string> = {
  Health: "Whether this edge can serve: for load balancers, container checks and `npm start`.",
  Media: "Received files behind signed links, so a webhook consumer's browser can open them.",
  Admin: "The operator's side, with `POMBO_ADMIN_TOKEN`: projects and their keys, fleet processes, metrics.",
  Instances: "One per WhatsApp number: pairing (QR, pairing code or an imported session), state, settings, profile.",
  Messages: "Sending every type, following each message's status, editing, deleting and searching.",
  Pools: "Named groups of numbers a send can rotate over.",
  Settings: "The project's defaults: pacing, warming, health threshold and the like.",
  Webhooks: "Where events are delivered (signed per Standard Webhooks), and each delivery's record and replay.",
  Conversations: "Chats as the project sees them, with their messages, read state and presence.",
  Contacts: "The project's CRM: contacts, notes, tags, groups, opt-out and history.",
  "WhatsApp block list": "A number's own WhatsApp block list.",
  Tags: "Labels the CRM puts on contacts.",
  "Contact groups": "Lists of contacts to send to together (not WhatsApp groups).",
  Suppressions: "Recipients no send may reach.",
  "WhatsApp groups": "WhatsApp groups a number is in: create, join, change, participants, invites.",
  Numbers: "Whether phone numbers are on WhatsApp.",
  Status: "Status posts (stories) a number publishes.",
  Metrics: "Counters per number and for the project, per hour or day: sent, delivered, read, failed by reason, received, opt-outs, webhooks, latency.",
  Events: "The live event stream (Server-Sent Events); the same events reach webhooks.",
};

const DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Pombo",
    version: "0.1.0",
    description: [
      "A multi-number WhatsApp gateway.",
      "",
      "## Authentication",
      "Every call carries a project API key: `Authorization: Bearer pb_live_...`.",
      "The first key is printed once when a project is created (`npm start` prints the `default` project's);",
      "more come from `POST /admin/projects/{id}/keys` with the operator's token (`POMBO_ADMIN_TOKEN`).",
      "Browsers open `GET /events` with a single-use token from `POST /events/token` instead, since EventSource cannot send headers.",
      "The fleet's own routes (`/fleet/*`, with `POMBO_FLEET_TOKEN`) are internal and not part of this document.",
      "",
      "```",
      "curl http://127.0.0.1:8787/instances -H \"Authorization: Bearer $POMBO_API_KEY\"",
      "```",
      "",
      "Each API key has a request budget per few seconds, set by the operator: past it, 429 `rate_limited` with `Retry-After`.",
      "Browser apps on other origins are allowed per project with `cors_origins` in `PATCH /settings`.",
      "",
      "Errors are `{ error: { code, message, details? } }`; `details.field` names the field at fault.",
      "A typed TypeScript client generated from this document lives in the repository's `sdk/`.",
    ].join("\n"),
  },
  servers: [
    { url: "http://127.0.0.1:8787", description: "Local: `npm start` (the port is `PORT`)" },
    {
      url: "https://{host}",
      description: "Deployed: the Worker's own host (its workers.dev name, or a custom domain)",
      variables: { host: { default: "pombo.your-subdomain.workers.dev", description: "Where `npm run deploy` put the Worker" } },
    },
  ],
  tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
};

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

const camel = (words: string[]) => words.map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())).join("");

/** `contacts` before `{id}` names one contact. */
const singular = (word: string) => (/ies$/.test(word) ? word.replace(/ies$/, "y") : /[^su]s$/.test(word) ? word.slice(0, -1) : word);

/**
 * An operation's id, from its method and full path: `GET /instances/{id}/qr`
 * is `getInstanceQr` (a collection before a parameter is one of it; the
 * parameters themselves are left out), `POST /messages/text` is
 * `postMessagesText`. A webhook (`message.received`) is `onMessageReceived`.
 */
export function operationId(method: string, path: string): string {
  const segments = path.split("/").filter(Boolean);
  const words = segments.flatMap((segment, i) => {
    if (segment.startsWith("{")) return [];
    const next = segments[i + 1];
    const word = next?.startsWith("{") ? singular(segment) : segment;
    return word.split(/[-_]/);
  });
  return camel([method, ...words]);
}

const webhookId = (event: string) => camel(["on", ...event.split(/[._]/)]);

type Operations = Record<string, Record<string, { operationId?: string }>>;

/** Names every operation that does not name itself (a route may set `operationId` where the derived one reads badly). */
function nameOperations(paths: Operations | undefined, name: (method: string, path: string) => string) {
  for (const [path, item] of Object.entries(paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) if (HTTP_METHODS.has(method)) operation.operationId ??= name(method, path);
  }
}

/** Serves the document at `/openapi.json`, built once per app (routes are all registered by the first request). */
export function serveDocument(app: OpenAPIHono<AppEnv>) {
  for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get("/openapi.json", (c) => {
    if (!document) {
      document = app.getOpenAPI31Document(DOCUMENT);
      nameOperations(document.paths as Operations, operationId);
      nameOperations(document.webhooks as Operations, (_method, event) => webhookId(event));
    }
    return c.json(document);
  });
}

/**
 * Who may call what. Every route is served under its prefix through one
 * audience (`audience(app, "project").mount("/instances", ...)` in app.ts),
 * never on the app directly. A sub-app per prefix runs the audience's
 * credential check before anything else on every path under that prefix,
 * whether a route answers it or not: a route added to a mounted group
 * cannot be served without the credential (a CORS preflight, which no
 * browser sends a credential with, is answered before it: cors.ts). Bodies
 * are read only after it (request-body.ts). Each operation in the OpenAPI
 * document names its audience's scheme and what the audience's checks and
 * the body rules answer (401, 429 for project keys, ...).
 * test/edge/access.test.ts walks every route and holds this;
 * test/edge/openapi.test.ts holds the answers documented.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono, MiddlewareHandler } from "hono";
import { adminAuth, fleetAuth, projectAuth, streamAuth } from "./auth.ts";
import { corsAnswer, corsPreflight } from "./cors.ts";
import type { AppEnv } from "./env.ts";
import { bodyGuard } from "./request-body.ts";
import { type ErrorStatus, errorsOf } from "./schemas.ts";

/** A body is held to the size limit (app.ts) and the body rules (request-body.ts) before any route reads it: malformed or too deep, too big, not UTF-8. */
const BODY_ANSWERS: ErrorStatus[] = [400, 413, 415];

/** The credentials the OpenAPI document names (`components.securitySchemes`). */
export const securitySchemes = {
  apiKey: { type: "http", scheme: "bearer", description: "A project API key: `Authorization: Bearer pb_live_...`" },
  adminToken: { type: "http", scheme: "bearer", description: "The operator's token: `Authorization: Bearer $POMBO_ADMIN_TOKEN`" },
  streamToken: {
    type: "apiKey",
    in: "query",
    name: "stream_token",
    description: "A single-use token from `POST /events/token`, for `GET /events` from a browser (EventSource sends no headers).",
  },
  webhookSignature: {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description:
      "How a receiver knows Pombo sent a webhook: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>` with the webhook's secret (Standard Webhooks).",
  },
} as const;

type Security = Partial<Record<keyof typeof securitySchemes, []>>[];
type Audience = {
  auth: MiddlewareHandler<AppEnv> | null;
  security: Security;
  /** Where `GET` takes more credentials than the other methods. */
  getSecurity?: Security;
  /** What the audience's own checks answer, documented on each of its operations. */
  answers: ErrorStatus[];
  /**
   * The credential is a project key with a request budget (rate-limits.ts),
   * so every route may answer 429, and browser apps of the project's listed
   * origins may call it (cors.ts).
   */
  limited?: true;
};

const AUDIENCES = {
  /** Anyone. Only app.ts's public block mounts here; such a route carries its own proof (a signed link) or none. */
  public: { auth: null, security: [], answers: [] },
  /** API clients with a project's key (403 when `X-Project-Id` names another project); every query is then scoped to that project. */
  project: { auth: projectAuth, security: [{ apiKey: [] }], answers: [401, 403, 429], limited: true },
  /** The event stream: a project's key, or on `GET` a single-use stream token (browsers' EventSource sends no headers). */
  stream: { auth: streamAuth, security: [{ apiKey: [] }], getSecurity: [{ apiKey: [] }, { streamToken: [] }], answers: [401, 403, 429], limited: true },
  /** The operator, with POMBO_ADMIN_TOKEN: one secret compared in constant time, no D1 lookup, so no budget. */
  admin: { auth: adminAuth, security: [{ adminToken: [] }], answers: [401] },
  /** Fleet processes, with POMBO_FLEET_TOKEN: their traffic grows with the numbers they run, so no budget. Their routes are internal: not in the document. */
  fleet: { auth: fleetAuth, security: [], answers: [401] },
} satisfies Record<string, Audience>;

export type AudienceName = keyof typeof AUDIENCES;

export function audience(app: OpenAPIHono<AppEnv>, name: AudienceName) {
  const { auth, security, getSecurity, answers, limited }: Audience = AUDIENCES[name];
  return {
    /** Serves `groups` (their paths relative to `prefix`, in this order) to this audience alone. */
    mount(prefix: string, ...groups: Hono<AppEnv>[]) {
      const sub = new OpenAPIHono<AppEnv>();
      if (limited) sub.use("*", corsPreflight);
      if (auth) sub.use("*", auth);
      if (limited) sub.use("*", corsAnswer);
      sub.use("*", bodyGuard);
      for (const group of groups) sub.route("/", group);
      // These are the sub-app's own copies of the groups' operations.
      for (const definition of sub.openAPIRegistry.definitions) {
        if (definition.type !== "route") continue;
        const { route } = definition;
        route.security = (route.method === "get" && getSecurity) || security;
        // What answers before the route's own code: the credential check (and budget), the body rules, the query's validation.
        const before = [...answers, ...(route.request?.body ? BODY_ANSWERS : []), ...(route.request?.query ? [400 as const] : [])];
        route.responses = { ...errorsOf(...before), ...route.responses };
      }
      app.route(prefix, sub);
      return this;
    },
  };
}

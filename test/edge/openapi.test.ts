/**
 * The API contract clients generate from (edge/openapi.ts): the document the
 * Worker serves is the committed sdk/openapi.json (the SDK's source: a
 * change to a route shows there, and `npm run sdk` refreshes it), every
 * operation has a stable, unique operationId, and what an operation answers
 * to bad input is a status it documents.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { operationId } from "../../edge/openapi.ts";
import { ADMIN, call, newProject } from "./helpers.ts";

type Operation = {
  method: string;
  path: string;
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  parameters?: { name: string; in: string }[];
  responses: Record<string, unknown>;
};
type Items = Record<string, Record<string, Omit<Operation, "method" | "path">>>;

const flatten = (items: Items | undefined) =>
  Object.entries(items ?? {}).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })));

/** A path with every parameter filled in. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, "x");

/** The status of one request; a stream (GET /events) is closed unread. */
async function status(op: Operation, token: string | undefined, init: { query?: string; raw?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  if (init.raw !== undefined) headers["Content-Type"] = init.contentType ?? "application/json";
  const url = `http://pombo.test${concrete(op.path)}${init.query ? `?${init.query}` : ""}`;
  const res = await exports.default.fetch(new Request(url, { method: op.method, headers, body: init.raw }));
  await res.body?.cancel();
  return res.status;
}

describe("the OpenAPI document", () => {
  let doc: any;
  let operations: Operation[];
  let credential: (op: Operation) => string | undefined;

  beforeAll(async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    doc = res.json;
    operations = flatten(doc.paths);
    const key = (await newProject("contract")).api_key;
    credential = (op) => {
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      return schemes.includes("adminToken") ? ADMIN : schemes.includes("apiKey") ? key : undefined;
    };
  });

  it("is the committed contract in sdk/openapi.json, the SDK's source (`npm run sdk` refreshes both)", async () => {
    await expect(`${JSON.stringify(doc, null, 2)}\n`).toMatchFileSnapshot("../../sdk/openapi.json");
  });

  it("gives every operation and webhook an operationId unique in the document; the list is committed, so a rename shows", async () => {
    const named = [...operations, ...flatten(doc.webhooks).map((op) => ({ ...op, path: `webhook ${op.path}` }))];
    for (const op of named) expect(op.operationId, `${op.method} ${op.path}`).toMatch(/^[a-z][A-Za-z]+$/);
    const ids = named.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    await expect(named.map((op) => `${op.operationId} ${op.method} ${op.path}`).join("\n") + "\n").toMatchFileSnapshot(
      "__snapshots__/operation-ids.txt",
    );
  });

  it("derives an operationId from the method and the full path: a collection before a parameter is one of it", () => {
    expect(operationId("get", "/instances/{id}/qr")).toBe("getInstanceQr");
    expect(operationId("post", "/instances")).toBe("postInstances");
    expect(operationId("delete", "/admin/projects/{id}/keys/{key_id}")).toBe("deleteAdminProjectKey");
    expect(operationId("post", "/webhooks/{id}/deliveries/{delivery_id}/replay")).toBe("postWebhookDeliveryReplay");
    expect(operationId("post", "/conversations/{jid}/presence/subscribe")).toBe("postConversationPresenceSubscribe");
    expect(operationId("post", "/status/text")).toBe("postStatusText");
  });

  it("says where the API runs: the local edge, and a deployed Worker's host as a variable", () => {
    expect(doc.servers[0].url).toBe("http://127.0.0.1:8787");
    expect(doc.servers[1]).toMatchObject({ url: "https://{host}", variables: { host: { default: expect.stringContaining(".workers.dev") } } });
  });

  it("documents /health as public, and names a scheme on every other operation and on every webhook", () => {
    expect(operations.find((op) => op.path === "/health")).toMatchObject({ method: "GET", security: [], operationId: "getHealth" });
    for (const op of operations) if (op.path !== "/health" && op.path !== "/media/{id}") expect(op.security?.length, `${op.method} ${op.path}`).toBeGreaterThan(0);
    for (const op of flatten(doc.webhooks)) expect(op.security, op.path).toEqual([{ webhookSignature: [] }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["adminToken", "apiKey", "streamToken", "webhookSignature"]);
  });

  it("documents what each operation answers with its credential and nothing valid: an empty body, made-up ids", async () => {
    const undocumented: string[] = [];
    for (const op of operations) {
      const code = await status(op, credential(op), op.method === "GET" ? {} : { raw: "{}" });
      if (!(code in op.responses)) undocumented.push(`${op.method} ${op.path} answered ${code}`);
    }
    expect(undocumented).toEqual([]);
  });

  it("documents what each operation answers to a body that is malformed, not UTF-8, or over 1 MB", async () => {
    const withBody = operations.filter((op) => op.requestBody?.content["application/json"]);
    expect(withBody.length).toBeGreaterThan(40);
    const bodies = [
      { raw: "{", contentType: "application/json" },
      { raw: "{}", contentType: "application/json; charset=iso-8859-1" },
      { raw: `"${"x".repeat(1024 * 1024)}"`, contentType: "application/json" },
    ];
    const undocumented: string[] = [];
    for (const op of withBody) {
      for (const body of bodies) {
        const code = await status(op, credential(op), body);
        if (!(code in op.responses)) undocumented.push(`${op.method} ${op.path} answered ${code} to ${body.contentType} ${body.raw.slice(0, 3)}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it("documents what each operation answers to query parameters no schema takes", async () => {
    const withQuery = operations.filter((op) => op.parameters?.some((p) => p.in === "query"));
    expect(withQuery.length).toBeGreaterThan(20);
    const undocumented: string[] = [];
    for (const op of withQuery) {
      for (const { name } of op.parameters!.filter((p) => p.in === "query")) {
        const code = await status(op, credential(op), { query: `${name}=${"-1%00".repeat(200)}` });
        if (!(code in op.responses)) undocumented.push(`${op.method} ${op.path}?${name}= answered ${code}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});

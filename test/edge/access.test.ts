/**
 * Authentication by default (edge/audiences.ts): every route the Worker
 * serves takes its audience's credential, except the public ones app.ts
 * declares. Walks every operation of the OpenAPI document and every entry of
 * the app's own route table, so a route mounted outside an audience (or an
 * audience the document misnames) fails here.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../edge/app.ts";
import { ADMIN, FLEET, call, newProject } from "./helpers.ts";

/** The operations that answer without credentials, as the document lists them. */
const PUBLIC_OPERATIONS = ["GET /media/{id}", "GET /health"];
/** Entries of the route table that answer without credentials: the three outside the document, and the media link's. */
const PUBLIC_ROUTES = ["GET /health", "GET /openapi.json", "GET /docs", "GET /console", "GET /console/*", "GET /docs/scalar.js", "GET /media/:id", "ALL /media/*"];

const API_KEY = [{ apiKey: [] }];
const ADMIN_TOKEN = [{ adminToken: [] }];

/** A path with every parameter (`{id}`, `:id`, a trailing `*`) filled in. */
const concrete = (path: string) => path.replace(/\{[^}]+\}|:[^/]+/g, "x").replace(/\*$/, "x");

/** The status and error code a request gets; a stream (GET /events) is closed unread. */
async function answer(method: string, path: string, token?: string) {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const init: RequestInit = { method: method === "ALL" ? "GET" : method.toUpperCase(), headers };
  if (init.method !== "GET") {
    headers["Content-Type"] = "application/json";
    init.body = "{}";
  }
  const res = await exports.default.fetch(new Request(`http://pombo.test${path}`, init));
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
    await res.body?.cancel();
    return { status: res.status, code: undefined };
  }
  const text = await res.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text)?.error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code };
}

type Operation = { method: string; path: string; security?: unknown[]; responses: Record<string, unknown> };
const isAdmin = (op: Operation) => JSON.stringify(op.security) === JSON.stringify(ADMIN_TOKEN);

describe("authentication by default", () => {
  let operations: Operation[];
  let projectKey: string;

  beforeAll(async () => {
    const doc = await call("/openapi.json");
    expect(doc.status).toBe(200);
    operations = Object.entries(doc.json.paths as Record<string, Record<string, Omit<Operation, "method" | "path">>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, ...op })),
    );
    projectKey = (await newProject("access")).api_key;
  });

  it("names a scheme on every operation in the document: the media link and /health alone are public, /admin takes the admin token, GET /events also a stream token", () => {
    expect(operations.length).toBeGreaterThan(70);
    for (const op of operations) {
      const name = `${op.method} ${op.path}`;
      if (PUBLIC_OPERATIONS.includes(name)) expect(op.security, name).toEqual([]);
      else if (name === "GET /events") expect(op.security, name).toEqual([...API_KEY, { streamToken: [] }]);
      else expect(op.security, name).toEqual(op.path.startsWith("/admin/") ? ADMIN_TOKEN : API_KEY);
      // The credential's refusal is documented wherever one is asked for.
      expect(op.responses["401"] !== undefined, name).toBe(op.security !== undefined && op.security.length > 0);
    }
  });

  it("refuses every non-public operation without credentials, and with the other audience's", async () => {
    for (const op of operations) {
      const name = `${op.method} ${op.path}`;
      if (PUBLIC_OPERATIONS.includes(name)) continue;
      const path = concrete(op.path);
      expect(await answer(op.method, path), `${name} without credentials`).toEqual({ status: 401, code: "unauthorized" });
      expect(await answer(op.method, path, "not-a-credential"), `${name} with a wrong one`).toEqual({ status: 401, code: "unauthorized" });
      const other = isAdmin(op) ? projectKey : ADMIN;
      expect(await answer(op.method, path, other), `${name} with the other audience's credential`).toEqual({ status: 401, code: "unauthorized" });
      expect(await answer(op.method, path, FLEET), `${name} with the fleet token`).toEqual({ status: 401, code: "unauthorized" });
    }
  });

  it("lets each operation's own credential through (the document names the scheme that is checked)", async () => {
    for (const op of operations) {
      const { status } = await answer(op.method, concrete(op.path), isAdmin(op) ? ADMIN : projectKey);
      expect(status, `${op.method} ${op.path}`).not.toBe(401);
    }
  });

  it("serves nothing outside an audience: every route the app holds, documented or not, asks for its credential", async () => {
    const seen = new Set<string>();
    const fleetRoutes: string[] = [];
    for (const { method, path } of createApp().routes) {
      const name = `${method} ${path}`;
      // The size limit and the body rules hold for every path; they answer nothing themselves.
      if (path === "/*" || seen.has(name)) continue;
      seen.add(name);
      if (PUBLIC_ROUTES.includes(name)) continue;
      expect(await answer(method, concrete(path)), `${name} without credentials`).toEqual({ status: 401, code: "unauthorized" });
      if (path.startsWith("/fleet/")) fleetRoutes.push(name);
    }
    // Every public entry is still there (a renamed one would otherwise go untested).
    for (const name of PUBLIC_ROUTES) expect(seen.has(name), name).toBe(true);
    expect(fleetRoutes.length).toBeGreaterThan(5);
  });

  it("keeps /fleet to the fleet token: a project key or the admin token is refused, the fleet token gets through", async () => {
    const fleet = createApp().routes.filter((r) => r.path.startsWith("/fleet/"));
    for (const { method, path } of fleet) {
      const name = `${method} ${path}`;
      for (const token of [projectKey, ADMIN]) expect(await answer(method, concrete(path), token), name).toEqual({ status: 401, code: "unauthorized" });
      expect((await answer(method, concrete(path), FLEET)).status, `${name} with the fleet token`).not.toBe(401);
    }
  });

  it("answers the public routes without credentials", async () => {
    for (const path of ["/openapi.json", "/docs"]) expect((await answer("GET", path)).status, path).toBe(200);
    // /health answers whatever it finds (503 here: this suite's edge has no R2 keys), never asking for credentials.
    expect((await answer("GET", "/health")).status).toBe(503);
    // The media link's own check answers instead: a link without a signature is refused as such.
    expect(await answer("GET", "/media/x")).toEqual({ status: 403, code: "invalid_signature" });
  });
});

/**
 * CORS for browser apps (edge/cors.ts): preflights are answered without a
 * key; a real answer is readable from another origin only when that origin
 * is on the key's project's `cors_origins`.
 */
import { describe, expect, it } from "vitest";
import { call, newProject } from "./helpers.ts";

const APP = "https://app.example.com";

const preflight = (path: string, origin: string, method: string, headers: string) =>
  call(path, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers } });

async function projectAllowing(...origins: string[]) {
  const project = await newProject("browser-app");
  const patched = await call("/settings", { method: "PATCH", token: project.api_key, body: { cors_origins: origins } });
  expect(patched.status).toBe(200);
  return project;
}

describe("CORS", () => {
  it("answers a preflight without a key: 204 naming the methods and headers the API takes", async () => {
    const res = await preflight("/messages/text", APP, "POST", "authorization,content-type,idempotency-key");
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(res.headers.get("Access-Control-Allow-Methods")?.split(",")).toEqual(expect.arrayContaining(["GET", "POST", "PATCH", "DELETE"]));
    expect(res.headers.get("Access-Control-Allow-Headers")?.split(",")).toEqual(expect.arrayContaining(["Authorization", "Content-Type", "Idempotency-Key"]));
    expect(res.headers.get("Access-Control-Max-Age")).toBe("7200");
    expect(res.headers.get("Vary")).toMatch(/Origin/);
    // The event stream's too; an OPTIONS that is no preflight still needs the key.
    expect((await preflight("/events", APP, "GET", "last-event-id")).status).toBe(204);
    expect((await call("/instances", { method: "OPTIONS" })).status).toBe(401);
  });

  it("opens nothing by default: no list, no Access-Control-Allow-Origin on answers", async () => {
    const project = await newProject("no-cors");
    expect((await call("/settings", { token: project.api_key })).json.cors_origins).toEqual([]);
    const res = await call("/instances", { token: project.api_key, headers: { Origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(res.headers.get("Access-Control-Expose-Headers")).toBeNull();
  });

  it("lets a listed origin read answers, errors included, and exposes Retry-After and Idempotent-Replayed", async () => {
    const project = await projectAllowing(APP, "http://localhost:5173");
    for (const origin of [APP, "http://localhost:5173"]) {
      const res = await call("/instances", { token: project.api_key, headers: { Origin: origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe(origin);
      expect(res.headers.get("Access-Control-Expose-Headers")?.split(",")).toEqual(["Retry-After", "Idempotent-Replayed"]);
      expect(res.headers.get("Vary")).toMatch(/Origin/);
    }
    const missing = await call("/instances/nope", { token: project.api_key, headers: { Origin: APP } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("Access-Control-Allow-Origin")).toBe(APP);
  });

  it("gives an origin not on the list nothing, nor one listed by another project", async () => {
    const listing = await projectAllowing(APP);
    for (const origin of ["https://evil.example.com", "https://app.example.com:8443", "http://app.example.com"]) {
      const res = await call("/instances", { token: listing.api_key, headers: { Origin: origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin"), origin).toBeNull();
    }
    const other = await projectAllowing("https://crm.example.com");
    expect((await call("/instances", { token: other.api_key, headers: { Origin: APP } })).headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("stores origins as browsers send them, and refuses anything else with a 400 naming the entry", async () => {
    const project = await newProject("cors-settings");
    const ok = await call("/settings", { method: "PATCH", token: project.api_key, body: { cors_origins: ["HTTPS://App.Example.com:443/", "http://localhost:3000"] } });
    expect(ok.status).toBe(200);
    expect(ok.json.cors_origins).toEqual([APP, "http://localhost:3000"]);
    for (const bad of ["*", "https://*.example.com", "https://app.example.com/path", "https://app.example.com?x=1", "ftp://app.example.com", "app.example.com", "https://user:pw@app.example.com", "null"]) {
      const res = await call("/settings", { method: "PATCH", token: project.api_key, body: { cors_origins: [APP, bad] } });
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe("invalid_request");
      expect(res.json.error.details.field, bad).toBe("cors_origins.1");
    }
    expect((await call("/settings", { token: project.api_key })).json.cors_origins).toEqual([APP, "http://localhost:3000"]);
  });

  it("shows cors_origins in the API document, in the settings and their PATCH", async () => {
    const { schemas } = (await call("/openapi.json")).json.components;
    for (const name of ["Settings", "SettingsPatch"]) {
      expect(schemas[name].properties.cors_origins, name).toMatchObject({ type: "array", items: { type: "string" }, maxItems: 50 });
    }
  });

  it("leaves same-origin calls (the console) as they were", async () => {
    const project = await projectAllowing(APP);
    const res = await call("/instances", { token: project.api_key, headers: { Origin: "http://pombo.test" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

/**
 * The edge's start-up check in workerd: with POMBO_ENV=production (what
 * `npm run deploy` sets) a missing or malformed required secret makes every
 * route but /health answer 503 `edge_misconfigured`, naming the setting and
 * never its value; /health lists it. Development (the suite's own edge, with
 * short test secrets) serves as before.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../edge/app.ts";
import type { Env } from "../../edge/env.ts";
import { newProject } from "./helpers.ts";

const STRONG = {
  POMBO_ADMIN_TOKEN: "Qm8v2Lr0xW4nT7kZpY1sB3dF6hJ9cE5a",
  POMBO_FLEET_TOKEN: "fT3yR8uI1oP6aS9dG2hK5lZ7xC0vB4nM",
  POMBO_DATA_KEY: "dK7mN2bV5cX8zL1kJ4hG6fD9sA3pO0iU",
  POMBO_R2_S3_ENDPOINT: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
  POMBO_R2_ACCESS_KEY_ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
  POMBO_R2_SECRET_ACCESS_KEY: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
};
const PRODUCTION = { ...STRONG, POMBO_ENV: "production" };

async function get(path: string, vars: Partial<Env>, headers: Record<string, string> = {}) {
  const res = await createApp().fetch(new Request(`http://pombo.test${path}`, { headers }), { ...env, ...vars } as Env, createExecutionContext());
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

describe("production config check", () => {
  it("a well-configured production edge serves: /health 200 with nothing missing or malformed, routes answer as usual", async () => {
    const health = await get("/health", PRODUCTION);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true, configured: true, missing: [], malformed: [] });
    const { api_key: key } = await newProject("prod-shop");
    expect((await get("/instances", PRODUCTION, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await get("/instances", PRODUCTION)).json.error.code).toBe("unauthorized");
  });

  it("a weak POMBO_DATA_KEY in production: every route 503 edge_misconfigured naming it, /health lists it, the value never shown", async () => {
    const weak = "too-short-data-key";
    const vars = { ...PRODUCTION, POMBO_DATA_KEY: weak };
    const { api_key: key } = await newProject("prod-weak");
    for (const [path, headers] of [["/instances", { authorization: `Bearer ${key}` }], ["/admin/projects", { authorization: `Bearer ${STRONG.POMBO_ADMIN_TOKEN}` }], ["/openapi.json", {}]] as const) {
      const res = await get(path, vars, headers);
      expect(res.status, path).toBe(503);
      expect(res.json.error).toMatchObject({ code: "edge_misconfigured", details: { field: "POMBO_DATA_KEY", missing: [], malformed: ["POMBO_DATA_KEY"] } });
      expect(res.json.error.message).toContain("POMBO_DATA_KEY is malformed");
      expect(res.text).not.toContain(weak);
    }
    const health = await get("/health", vars);
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ ok: false, configured: false, missing: [], malformed: ["POMBO_DATA_KEY"], d1: { ok: true } });
    expect(health.text).not.toContain(weak);
  });

  it("in production, missing secrets, the .env.example values, a non-random token and a plain-http R2 endpoint are each named", async () => {
    const vars = {
      ...PRODUCTION,
      POMBO_ADMIN_TOKEN: "pombo-local-admin-token-0123456789",
      POMBO_FLEET_TOKEN: "abababababababababababababababababab",
      POMBO_R2_S3_ENDPOINT: "http://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
      POMBO_R2_SECRET_ACCESS_KEY: "",
    };
    const health = await get("/health", vars);
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({
      configured: false,
      missing: ["POMBO_R2_SECRET_ACCESS_KEY"],
      malformed: ["POMBO_ADMIN_TOKEN", "POMBO_FLEET_TOKEN", "POMBO_R2_S3_ENDPOINT"],
    });
    const refused = await get("/instances", vars);
    expect(refused.json.error).toMatchObject({ code: "edge_misconfigured", details: { field: "POMBO_R2_SECRET_ACCESS_KEY" } });
    for (const value of [vars.POMBO_ADMIN_TOKEN, vars.POMBO_FLEET_TOKEN, vars.POMBO_R2_S3_ENDPOINT]) {
      expect(health.text).not.toContain(value);
      expect(refused.text).not.toContain(value);
    }
  });

  it("development (no POMBO_ENV) keeps serving with short local secrets and only counts missing ones", async () => {
    const { api_key: key } = await newProject("dev-shop");
    // The suite's own bindings: 13-character test secrets, no R2 keys.
    expect((await get("/instances", {}, { authorization: `Bearer ${key}` })).status).toBe(200);
    const health = await get("/health", { ...STRONG, POMBO_DATA_KEY: "short" });
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ configured: true, missing: [], malformed: [] });
  });
});

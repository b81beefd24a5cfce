/**
 * GET /health in workerd: public, counts without any project's data, and
 * 503 while a required secret is missing. The suite's Worker has no R2 keys
 * (other suites test media without them), so a configured edge is this
 * app called with them added.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../edge/app.ts";
import type { Env } from "../../edge/env.ts";
import { call, connectInstance, joinDirectory, newInstance, newProject, resetDirectory } from "./helpers.ts";

const R2_KEYS = {
  POMBO_R2_S3_ENDPOINT: "http://127.0.0.1:9/cdn-cgi/local/r2/s3",
  POMBO_R2_ACCESS_KEY_ID: "pombo-local-r2",
  POMBO_R2_SECRET_ACCESS_KEY: "pombo-local-r2-secret",
};

/** /health as an edge with `vars` over the suite's bindings answers it, without credentials. */
async function health(vars: Partial<Env> = {}) {
  const res = await createApp().fetch(new Request("http://pombo.test/health"), { ...env, ...vars } as Env, createExecutionContext());
  return { status: res.status, text: await res.text() };
}

afterEach(resetDirectory);

describe("GET /health", () => {
  it("answers 200 without credentials when configured, with the fleet processes and connected numbers, and no project's data", async () => {
    const { id: projectId, name, api_key: key } = await newProject("secret-shop");
    const number = await newInstance(key, "support-line");
    await joinDirectory("fleet-health");
    const fleet = await connectInstance(number.id, "fleet-health");
    expect((await fleet.next()).event).toBe("lease.granted");
    fleet.event("status", { state: "connected", jid: "5511900000042:7@s.whatsapp.net" });
    await fleet.request("session.get", { keys: [] });

    const { status, text } = await health(R2_KEYS);
    expect(status).toBe(200);
    const body = JSON.parse(text);
    expect(body).toEqual({
      ok: true,
      configured: true,
      missing: [],
      d1: { ok: true, latency_ms: expect.any(Number) },
      fleets: 1,
      connected_numbers: 1,
    });
    for (const secret of [projectId, name, number.id, "support-line", key, "5511900000042", "fleet-health", env.POMBO_ADMIN_TOKEN!]) {
      expect(text).not.toContain(secret);
    }
  });

  it("answers 503 naming (never showing) a missing secret: the suite's own edge lacks the R2 keys", async () => {
    const { status, json } = await call("/health");
    expect(status).toBe(503);
    expect(json).toMatchObject({ ok: false, configured: false, missing: ["POMBO_R2_S3_ENDPOINT", "POMBO_R2_ACCESS_KEY_ID", "POMBO_R2_SECRET_ACCESS_KEY"] });
    expect(json.d1.ok).toBe(true);

    const noDataKey = await health({ ...R2_KEYS, POMBO_DATA_KEY: "" });
    expect(noDataKey.status).toBe(503);
    expect(JSON.parse(noDataKey.text)).toMatchObject({ ok: false, configured: false, missing: ["POMBO_DATA_KEY"] });
    expect(noDataKey.text).not.toContain(env.POMBO_ADMIN_TOKEN!);
  });

  it("answers 503 when D1 does not answer", async () => {
    const down = () => Promise.reject(new Error("D1 down"));
    const statement: object = { bind: () => statement, all: down, raw: down, first: down, run: down };
    const { status, text } = await health({ ...R2_KEYS, DB: { prepare: () => statement } as unknown as D1Database });
    expect(status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ ok: false, configured: true, d1: { ok: false, latency_ms: null }, connected_numbers: null });
  });

  it("is in the OpenAPI document as a public operation", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(doc.paths["/health"].get.security).toEqual([]);
    expect(Object.keys(doc.paths["/health"].get.responses)).toEqual(["200", "503"]);
  });
});

import { describe, expect, it } from "vitest";
import { call, newInstance, newProject, postRaw } from "./helpers.ts";

describe("bad input gets a clear 4xx naming the field, never a 500", () => {
  it("names the field when a type is wrong or a field is missing", async () => {
    const { api_key } = await newProject();
    const wrongType = await call("/instances", { method: "POST", token: api_key, body: { name: 42 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error.code).toBe("invalid_request");
    expect(wrongType.json.error.details.field).toBe("name");
    expect(wrongType.json.error.message).toMatch(/^name: /);

    const missing = await call("/instances", { method: "POST", token: api_key, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.error.details.field).toBe("name");

    const badProxy = await call("/instances", { method: "POST", token: api_key, body: { name: "x", proxy_url: "ftp://x" } });
    expect(badProxy.status).toBe(400);
    expect(badProxy.json.error.details.field).toBe("proxy_url");
  });

  it("answers malformed JSON with invalid_json, and a non-JSON body with 415", async () => {
    const { api_key } = await newProject();
    const broken = await call("/instances", { method: "POST", token: api_key, raw: '{"name": "x",' });
    expect(broken.status).toBe(400);
    expect(broken.json.error.code).toBe("invalid_json");
    const form = await postRaw("/instances", api_key, "name=x", "application/x-www-form-urlencoded");
    expect(form.status).toBe(415);
    expect(form.json.error.code).toBe("unsupported_media_type");
  });

  it("pages lists with limit (default 200, max 500) and offset", async () => {
    const { api_key } = await newProject();
    for (let i = 0; i < 3; i++) await newInstance(api_key, `n${i}`);
    const all = await call("/instances", { token: api_key });
    expect(all.json).toMatchObject({ total: 3, limit: 200, offset: 0 });
    const page = await call("/instances?limit=2&offset=2", { token: api_key });
    expect(page.json).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(page.json.data).toHaveLength(1);
    const tooMany = await call("/instances?limit=501", { token: api_key });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.details.field).toBe("limit");
    const negative = await call("/instances?offset=-1", { token: api_key });
    expect(negative.json.error.details.field).toBe("offset");
  });

  it("rejects a pairing phone that is not a number, and a session that is not Baileys creds", async () => {
    const { api_key } = await newProject();
    const { id } = await newInstance(api_key);
    const phone = await call(`/instances/${id}/pairing-code`, { method: "POST", token: api_key, body: { phone: "hello" } });
    expect(phone.status).toBe(400);
    expect(phone.json.error.details.field).toBe("phone");
    const session = await call(`/instances/${id}/session`, { method: "POST", token: api_key, body: { creds: "nope" } });
    expect(session.status).toBe(400);
    expect(session.json.error.details.field).toBe("noiseKey");
  });

  it("answers unknown ids and routes with 404, and oversized bodies with 413", async () => {
    const { api_key } = await newProject();
    const unknown = await call("/instances/does-not-exist", { token: api_key });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("not_found");
    const route = await call("/nope", { token: api_key });
    expect(route.status).toBe(404);
    const huge = await call("/instances", { method: "POST", token: api_key, body: { name: "x".repeat(2 * 1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe("payload_too_large");
  });

  it("publishes an OpenAPI 3.1 document of the public routes and a reference page", async () => {
    const doc = await call("/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toBe("3.1.0");
    for (const path of ["/instances", "/instances/{id}", "/instances/{id}/qr", "/instances/{id}/session", "/admin/projects"]) {
      expect(doc.json.paths[path], path).toBeDefined();
    }
    expect(doc.json.paths["/fleet/connect"]).toBeUndefined();
    const page = await call("/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    // Its body says what it checked (health.test.ts); this suite's edge lacks the R2 keys, so it is not ok.
    expect((await call("/health")).json).toMatchObject({ ok: false, configured: false, d1: { ok: true } });
  });
});

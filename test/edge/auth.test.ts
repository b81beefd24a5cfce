import { describe, expect, it } from "vitest";
import { ADMIN, call, newInstance, newProject } from "./helpers.ts";

describe("API keys and tenancy", () => {
  it("creates a project whose key is shown once and stored only as a hash", async () => {
    const project = await newProject();
    expect(project.api_key).toMatch(/^pb_live_[0-9A-Za-z]{43}$/);
    const { env } = await import("cloudflare:test");
    const dump = JSON.stringify(await env.DB.prepare("SELECT * FROM api_keys").all());
    expect(dump).not.toContain(project.api_key);
    expect(dump).not.toContain(project.api_key.slice(8));
    const keys = await call(`/admin/projects/${project.id}/keys`, { token: ADMIN });
    expect(JSON.stringify(keys.json)).not.toContain(project.api_key);
  });

  it("answers 401 without a key, with a malformed one, and with an unknown one", async () => {
    for (const headers of [{} as Record<string, string>, { Authorization: "Basic abc" }, { Authorization: "Bearer pb_live_nope" }, { Authorization: "Bearer zz" }]) {
      const res = await call("/instances", { headers });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
  });

  it("stops accepting a key the moment it is revoked, and keeps the other keys working", async () => {
    const project = await newProject();
    const second = await call(`/admin/projects/${project.id}/keys`, { method: "POST", token: ADMIN });
    expect(second.status).toBe(201);
    expect((await call("/instances", { token: second.json.api_key })).status).toBe(200);
    const revoked = await call(`/admin/projects/${project.id}/keys/${second.json.id}`, { method: "DELETE", token: ADMIN });
    expect(revoked.status).toBe(204);
    expect((await call("/instances", { token: second.json.api_key })).status).toBe(401);
    expect((await call("/instances", { token: project.api_key })).status).toBe(200);
    // Revoking twice, or another project's key, is a 404.
    expect((await call(`/admin/projects/${project.id}/keys/${second.json.id}`, { method: "DELETE", token: ADMIN })).status).toBe(404);
  });

  it("rejects an X-Project-Id that is not the key's project", async () => {
    const project = await newProject();
    const ok = await call("/instances", { token: project.api_key, headers: { "X-Project-Id": project.id } });
    expect(ok.status).toBe(200);
    const wrong = await call("/instances", { token: project.api_key, headers: { "X-Project-Id": "someone-else" } });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.code).toBe("project_mismatch");
  });

  it("never shows or touches another project's instances", async () => {
    const a = await newProject("a");
    const b = await newProject("b");
    const mine = await newInstance(a.api_key, "a-number");
    const theirs = await newInstance(b.api_key, "b-number");

    const list = await call("/instances", { token: a.api_key });
    expect(list.json.data.map((i: { id: string }) => i.id)).toEqual([mine.id]);
    expect(list.json.total).toBe(1);

    for (const [method, suffix] of [
      ["GET", ""],
      ["DELETE", ""],
      ["POST", "/restart"],
      ["POST", "/logout"],
      ["GET", "/qr"],
    ] as const) {
      const res = await call(`/instances/${theirs.id}${suffix}`, { method, token: a.api_key });
      expect(res.status, `${method} ${suffix}`).toBe(404);
      expect(res.json.error.code).toBe("not_found");
    }
    // Still there for its owner.
    expect((await call(`/instances/${theirs.id}`, { token: b.api_key })).status).toBe(200);
  });

  it("keeps /admin and /fleet closed to project keys and to wrong tokens", async () => {
    const project = await newProject();
    expect((await call("/admin/projects", { token: project.api_key })).status).toBe(401);
    expect((await call("/admin/projects", { token: "wrong" })).status).toBe(401);
    expect((await call("/fleet/instances/x/qr", { token: ADMIN })).status).toBe(401);
    expect((await call("/admin/projects", { token: ADMIN })).status).toBe(200);
  });
});

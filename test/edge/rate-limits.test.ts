/**
 * Request budgets (edge/rate-limits.ts) through the real Rate Limiting
 * binding of wrangler.toml, as workerd runs it locally: 600 requests per key
 * and 20 unknown keys per address, per 10-second window. Local windows are
 * aligned to the clock, so a burst may straddle two of them: each test sends
 * until the first 429, never more than two windows' worth.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../edge/app.ts";
import type { Env } from "../../edge/env.ts";
import { ADMIN, call, newProject } from "./helpers.ts";

const KEY_BUDGET = 600;
const BAD_KEY_BUDGET = 20;

type Answer = Awaited<ReturnType<typeof call>>;

/**
 * Sends `request` in parallel batches until one answers 429: that answer, and
 * how many were served (the budget, or more if a window turned meanwhile).
 */
async function untilLimited(request: (i: number) => Promise<Answer>, budget: number) {
  let served = 0;
  for (let sent = 0; sent <= 2 * budget + 1; ) {
    const batch = await Promise.all(Array.from({ length: 50 }, (_, i) => request(sent + i)));
    sent += batch.length;
    served += batch.filter((res) => res.status !== 429).length;
    const limited = batch.find((res) => res.status === 429);
    if (limited) return { served, limited };
  }
  throw new Error(`no 429 after ${2 * budget + 2} requests`);
}

/** The Worker's app with a D1 that counts what is asked of it. */
function countingD1() {
  const counted = { statements: 0 };
  const DB = new Proxy(env.DB, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (name === "prepare" || name === "batch" || name === "exec") counted.statements++;
        return value.apply(target, args);
      };
    },
  });
  const app = createApp();
  const fetch = async (path: string, headers: Record<string, string>) => {
    const res = await app.fetch(new Request(`http://pombo.test${path}`, { headers }), { ...env, DB } as Env, createExecutionContext());
    return { status: res.status, json: (await res.json()) as any, headers: res.headers };
  };
  return { counted, fetch };
}

const unknownKey = (i: number) => `pb_live_${String(i).padStart(43, "x")}`;

describe("per-key rate limits", () => {
  it("answers 429 rate_limited with Retry-After once a key has spent its budget, and leaves other keys alone", async () => {
    const wild = await newProject("wild");
    const calm = await newProject("calm");
    // A path that costs the Worker nothing past the key (501): the budget is what is measured.
    const { served, limited } = await untilLimited(() => call("/labels", { token: wild.api_key }), KEY_BUDGET);
    expect(served).toBeGreaterThanOrEqual(KEY_BUDGET);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("10");
    expect(limited.json.error).toMatchObject({ code: "rate_limited", details: { retry_after_s: 10 } });
    expect(limited.json.error.message).toMatch(/API key/);
    // Every route of the key is closed for the window, not only the one hammered.
    expect((await call("/instances", { token: wild.api_key })).status).toBe(429);
    // Another project's key, and another key of the same project, still go through.
    expect((await call("/instances", { token: calm.api_key })).status).toBe(200);
    const second = await call(`/admin/projects/${wild.id}/keys`, { method: "POST", token: ADMIN });
    expect((await call("/instances", { token: second.json.api_key })).status).toBe(200);
  });

  it("turns a limited key away before D1: no query for it, cached or not", async () => {
    const wild = await newProject("wild-d1");
    await untilLimited(() => call("/labels", { token: wild.api_key }), KEY_BUDGET);
    const { counted, fetch } = countingD1();
    // Cached in this isolate (it has just been used)...
    const cached = await fetch("/instances", { Authorization: `Bearer ${wild.api_key}` });
    expect(cached.status).toBe(429);
    // ...and forgotten (revoking another key clears the project's from the cache): still no lookup.
    const other = await call(`/admin/projects/${wild.id}/keys`, { method: "POST", token: ADMIN });
    expect((await call(`/admin/projects/${wild.id}/keys/${other.json.id}`, { method: "DELETE", token: ADMIN })).status).toBe(204);
    const uncached = await fetch("/instances", { Authorization: `Bearer ${wild.api_key}` });
    expect(uncached.status).toBe(429);
    expect(counted.statements).toBe(0);
    // The same wrapper sees the lookup of a key that is within its budget.
    const calm = await newProject("calm-d1");
    expect((await fetch("/labels", { Authorization: `Bearer ${calm.api_key}` })).status).toBe(501);
    expect(counted.statements).toBeGreaterThan(0);
  });

  it("bounds a flood of unknown keys by address: 401s, then 429 without a D1 lookup, while other addresses are served", async () => {
    const from = (address: string, key: string) => ({ Authorization: `Bearer ${key}`, "CF-Connecting-IP": address });
    const { served, limited } = await untilLimited((i) => call("/instances", { headers: from("203.0.113.7", unknownKey(i)) }), BAD_KEY_BUDGET);
    expect(served).toBeGreaterThanOrEqual(BAD_KEY_BUDGET);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(limited.headers.get("Retry-After")).toBe("10");

    const { counted, fetch } = countingD1();
    const again = await fetch("/instances", from("203.0.113.7", unknownKey(9_999)));
    expect(again.status).toBe(429);
    expect(counted.statements).toBe(0);
    // A neighbour on another address is still told its key is unknown, and a real key works from anywhere else.
    expect((await call("/instances", { headers: from("198.51.100.2", unknownKey(9_999)) })).status).toBe(401);
    const project = await newProject("elsewhere");
    expect((await call("/instances", { headers: from("198.51.100.2", project.api_key) })).status).toBe(200);
  });

  it("counts made-up stream tokens against the address as unknown keys", async () => {
    const { limited } = await untilLimited((i) => call(`/events?stream_token=pb_st_madeup${i}`, { headers: { "CF-Connecting-IP": "192.0.2.55" } }), BAD_KEY_BUDGET);
    expect(limited.json.error.code).toBe("rate_limited");
    expect((await call("/events?stream_token=pb_st_madeup", { headers: { "CF-Connecting-IP": "192.0.2.56" } })).status).toBe(401);
  });

  it("counts an IPv6 client by its /64: made-up keys from neighbouring addresses share one budget", async () => {
    const address = (i: number) => `2001:db8:0:42::${(i + 1).toString(16)}`;
    const { limited } = await untilLimited((i) => call("/instances", { headers: { Authorization: `Bearer ${unknownKey(i)}`, "CF-Connecting-IP": address(i) } }), BAD_KEY_BUDGET);
    expect(limited.json.error.code).toBe("rate_limited");
    expect((await call("/instances", { headers: { Authorization: `Bearer ${unknownKey(1)}`, "CF-Connecting-IP": "2001:db8:0:43::1" } })).status).toBe(401);
  });

  it("documents the 429 on every project-key operation, and on no admin one", async () => {
    const doc = (await call("/openapi.json")).json;
    const operations = Object.values(doc.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, any> }>>).flatMap((ops) => Object.values(ops));
    const withKey = operations.filter((op) => JSON.stringify(op.security) === JSON.stringify([{ apiKey: [] }]));
    expect(withKey.length).toBeGreaterThan(50);
    for (const op of withKey) expect(op.responses["429"]?.headers?.["Retry-After"]).toBeDefined();
    const admin = operations.filter((op) => JSON.stringify(op.security) === JSON.stringify([{ adminToken: [] }]));
    for (const op of admin) expect(op.responses["429"]).toBeUndefined();
  });
});

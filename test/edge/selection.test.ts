import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, connectedFleet, messageOf, newInstance, newProject, noPacing, waitFor } from "./helpers.ts";

async function fleetOf(count: number) {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const numbers = [];
  for (let i = 0; i < count; i++) {
    const { id } = await newInstance(key, `n${i}`);
    numbers.push({ id, fleet: await connectedFleet(id, { jid: `55119000000${i}:1@s.whatsapp.net` }) });
  }
  return { key, numbers, ids: numbers.map((n) => n.id) };
}

const text = (key: string, body: object) =>
  call("/messages/text", { method: "POST", token: key, body: { body: "hi", ...body } });

const customer = (n: number) => `55119888800${String(n).padStart(2, "0")}@s.whatsapp.net`;

describe("choosing the number that sends (reference 000)", () => {
  it("sticks a new contact to one number even when 200 first messages arrive at once", async () => {
    const { key, ids } = await fleetOf(3);
    const results = await Promise.all(Array.from({ length: 200 }, () => text(key, { to: customer(1) })));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const used = new Set(results.map((r) => r.json.instance_id));
    expect(used.size).toBe(1);
    expect(ids).toContain([...used][0]);
    // And later messages keep to it.
    expect((await text(key, { to: customer(1) })).json.instance_id).toBe([...used][0]);
  });

  it("rotates sends with sticky:false evenly (round robin), and sticks new contacts to rotating numbers", async () => {
    const { key, ids } = await fleetOf(3);
    const broadcast = [];
    for (let i = 0; i < 6; i++) broadcast.push((await text(key, { to: customer(2), sticky: false })).json.instance_id);
    for (const id of ids) expect(broadcast.filter((x) => x === id)).toHaveLength(2);

    const firsts = [];
    for (let i = 10; i < 13; i++) firsts.push((await text(key, { to: customer(i) })).json.instance_id);
    expect(new Set(firsts).size).toBe(3);
  });

  it("uses exactly the pinned number, even while it is offline", async () => {
    const { key, ids } = await fleetOf(2);
    const { id: offline } = await newInstance(key, "offline");
    for (const id of [ids[1]!, offline]) {
      const res = await text(key, { to: customer(3), instance_id: id });
      expect(res.status).toBe(202);
      expect(res.json.instance_id).toBe(id);
    }
    const unknown = await text(key, { to: customer(3), instance_id: "nope" });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.details.field).toBe("instance_id");
  });

  it("moves a contact to another number when its number disconnects, and keeps it there", async () => {
    const { key, numbers } = await fleetOf(2);
    const first = (await text(key, { to: customer(4) })).json.instance_id;
    const owner = numbers.find((n) => n.id === first)!;
    owner.fleet.socket.event("status", { state: "disconnected", reason: "transient", close_code: 428 });
    await waitFor(async () => (await call(`/instances/${first}`, { token: key })).json.state === "disconnected");
    const moved = (await text(key, { to: customer(4) })).json.instance_id;
    expect(moved).not.toBe(first);
    owner.fleet.socket.event("status", { state: "connected", jid: "5511900000000:1@s.whatsapp.net" });
    await waitFor(async () => (await call(`/instances/${first}`, { token: key })).json.state === "connected");
    expect((await text(key, { to: customer(4) })).json.instance_id).toBe(moved);
  });

  it("rotates only within a pool, by the pool's strategy", async () => {
    const { key, ids } = await fleetOf(3);
    const pool = await call("/pools", { method: "POST", token: key, body: { name: "sales", strategy: "least_used", instance_ids: [ids[0], ids[1]] } });
    expect(pool.status).toBe(201);
    const used: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await text(key, { to: customer(20 + i), pool_id: pool.json.id });
      used.push(res.json.instance_id);
      await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent");
    }
    expect(used.every((id) => id !== ids[2])).toBe(true);
    // least_used: each send goes to the number that has sent the least today.
    expect(used.filter((id) => id === ids[0])).toHaveLength(2);
    expect(used.filter((id) => id === ids[1])).toHaveLength(2);

    const missing = await text(key, { to: customer(30), pool_id: "nope" });
    expect(missing.status).toBe(404);
    expect(missing.json.error.details.field).toBe("pool_id");
  });

  it("answers 409 no_number_available only when no connected, healthy number exists", async () => {
    const { api_key: key } = await newProject();
    await newInstance(key, "never-connected");
    const res = await text(key, { to: customer(5) });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("no_number_available");
  });

  it("takes a number out of rotation at once when its health falls below the threshold", async () => {
    const { key, numbers } = await fleetOf(2);
    const [sick, well] = numbers;
    // WhatsApp refusing its messages (463) three times over.
    for (let i = 0; i < 3; i++) {
      const res = await text(key, { to: customer(40 + i), instance_id: sick!.id });
      await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent");
      sick!.fleet.socket.event("message.status", {
        wa_message_id: (await messageOf(key, res.json.id)).wa_message_id,
        chat_jid: customer(40 + i),
        status: "failed",
        error_code: "463",
      });
      await waitFor(async () => (await messageOf(key, res.json.id)).status === "failed");
    }
    const health = (await call(`/instances/${sick!.id}`, { token: key })).json.health;
    expect(health).toBeLessThan(40);
    for (let i = 0; i < 4; i++) expect((await text(key, { to: customer(50 + i), sticky: false })).json.instance_id).toBe(well!.id);
    // With the healthy one gone too, nothing is left: 409.
    well!.fleet.socket.event("status", { state: "disconnected", reason: "transient", close_code: 408 });
    await waitFor(async () => (await call(`/instances/${well!.id}`, { token: key })).json.state === "disconnected");
    expect((await text(key, { to: customer(60), sticky: false })).status).toBe(409);
  });

  it("prefers warmed numbers, and uses a warming one only when no warmed one can send", async () => {
    const { key, numbers } = await fleetOf(2);
    const [fresh, warmed] = numbers;
    const fiveDaysAgo = new Date(Date.now() - 6 * 86_400_000).toISOString();
    await env.DB.prepare("UPDATE instances SET first_connected_at = ? WHERE id = ?").bind(fiveDaysAgo, warmed!.id).run();

    const instance = (await call(`/instances/${fresh!.id}`, { token: key })).json;
    expect(instance.warming).toMatchObject({ day: 1, daily_limit: 30, sent_today: 0 });
    expect(Date.parse(instance.warming.ends_at)).toBeGreaterThan(Date.now() + 4 * 86_400_000);
    expect((await call(`/instances/${warmed!.id}`, { token: key })).json.warming).toBeNull();

    for (let i = 0; i < 4; i++) expect((await text(key, { to: customer(70 + i), sticky: false })).json.instance_id).toBe(warmed!.id);
    warmed!.fleet.socket.event("status", { state: "disconnected", reason: "transient", close_code: 428 });
    await waitFor(async () => (await call(`/instances/${warmed!.id}`, { token: key })).json.state === "disconnected");
    expect((await text(key, { to: customer(80), sticky: false })).json.instance_id).toBe(fresh!.id);
  });
});

describe("pools and settings", () => {
  it("refuses pool members that are not the project's numbers, naming the field", async () => {
    const { key, ids } = await fleetOf(1);
    const other = await newProject("other");
    const { id: theirs } = await newInstance(other.api_key);
    const res = await call("/pools", { method: "POST", token: key, body: { name: "p", instance_ids: [ids[0], theirs] } });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toMatchObject({ field: "instance_ids", unknown: [theirs] });

    const pool = (await call("/pools", { method: "POST", token: key, body: { name: "p", instance_ids: ids } })).json;
    const changed = await call(`/pools/${pool.id}`, { method: "PATCH", token: key, body: { strategy: "health_weighted", instance_ids: [] } });
    expect(changed.json).toMatchObject({ strategy: "health_weighted", instance_ids: [] });
    expect((await call("/pools", { token: other.api_key })).json.total).toBe(0);
    expect((await call(`/pools/${pool.id}`, { method: "DELETE", token: other.api_key })).status).toBe(404);
    expect((await call(`/pools/${pool.id}`, { method: "DELETE", token: key })).status).toBe(204);
  });

  it("serves defaults, merges patches, and refuses inconsistent ones", async () => {
    const { api_key: key } = await newProject();
    const defaults = (await call("/settings", { token: key })).json;
    expect(defaults).toMatchObject({ warming_days: 5, pacing: { enabled: true, typing: true }, health_threshold: 40, language: "en" });
    const patched = await call("/settings", { method: "PATCH", token: key, body: { pacing: { min_gap_ms: 1000 }, warming_days: 3 } });
    expect(patched.json).toMatchObject({ warming_days: 3, pacing: { enabled: true, min_gap_ms: 1000, max_gap_ms: defaults.pacing.max_gap_ms } });
    const bad = await call("/settings", { method: "PATCH", token: key, body: { pacing: { min_gap_ms: 9000, max_gap_ms: 10 } } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("pacing.max_gap_ms");
    const unknown = await call("/settings", { method: "PATCH", token: key, body: { nope: 1 } });
    expect(unknown.status).toBe(400);
  });
});

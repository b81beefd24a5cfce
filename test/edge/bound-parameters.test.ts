/**
 * D1 takes at most 100 bound parameters per statement. Every query built from
 * a list (IN (...), multi-row inserts) is tried here with more than 100
 * items, through the API where a client can reach it, else through the
 * function that builds it.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { insertContactEvents } from "../../edge/db/contact-events.ts";
import { CONTACT_GROUPS, TAGS, ensureEntries } from "../../edge/db/tags-and-contact-groups.ts";
import { deliveriesForJobs, markDead } from "../../edge/db/webhooks.ts";
import { learnMappings } from "../../edge/services/identity.ts";
import { call, connectedFleet, newInstance, newProject, noPacing, waitFor } from "./helpers.ts";

const N = 150;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const pad = (i: number) => String(i).padStart(4, "0");

/** A webhook endpoint of the project with `n` deliveries, each with one failed attempt, seeded in D1. */
async function webhookWithDeliveries(n: number) {
  const { id: projectId, api_key: key } = await newProject();
  const hook = (await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/many", events: ["message.*"] } })).json;
  await env.DB.batch(
    range(n).flatMap((i) => [
      env.DB.prepare(
        "INSERT INTO webhook_deliveries (id, project_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, 'message.received', '{}', 'retrying', 1, ?, ?)",
      ).bind(`d-${hook.id}-${pad(i)}`, projectId, hook.id, `evt_${pad(i)}`, `2026-01-01T00:00:${pad(i).slice(2)}.${pad(i).slice(1)}Z`, "2026-01-01T00:00:00.000Z"),
      env.DB.prepare("INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms) VALUES (?, 1, 503, NULL, 12)").bind(`d-${hook.id}-${pad(i)}`),
    ]),
  );
  return { projectId, key, hook, ids: range(n).map((i) => `d-${hook.id}-${pad(i)}`) };
}

describe("lists longer than D1's 100 bound parameters", () => {
  it(`GET /webhooks/{id}/deliveries with ${N} deliveries: the default page (200) and limit=500 answer 200 with every delivery and its attempts`, async () => {
    const { key, hook } = await webhookWithDeliveries(N);
    for (const query of ["", "?limit=500"]) {
      const res = await call(`/webhooks/${hook.id}/deliveries${query}`, { token: key });
      expect(res.status, query).toBe(200);
      expect(res.json.total).toBe(N);
      expect(res.json.data).toHaveLength(N);
      expect(res.json.data.every((d: any) => d.history.length === 1 && d.history[0].status_code === 503)).toBe(true);
    }
  });

  it(`the queue consumer's lookups (a batch's deliveries, giving up on them) take ${N} ids`, async () => {
    const { ids } = await webhookWithDeliveries(N);
    const d1 = db(env.DB);
    expect((await deliveriesForJobs(d1, ids.map((id) => ({ id })))).size).toBe(N);
    await markDead(d1, ids, "test");
    const dead = await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'dead' AND id LIKE ?").bind(`${ids[0]!.slice(0, -4)}%`).first<{ n: number }>();
    expect(dead!.n).toBe(N);
  });

  it(`GET /pools lists ${N} pools with their members; a pool naming ${N} instances that are not the project's is a 400 that lists them`, async () => {
    const { api_key: key } = await newProject();
    const { id: instanceId } = await newInstance(key);
    await env.DB.batch(
      range(N).flatMap((i) => [
        env.DB.prepare("INSERT INTO pools (id, project_id, name, strategy) SELECT ?, project_id, ?, 'round_robin' FROM instances WHERE id = ?").bind(`pool-${instanceId}-${pad(i)}`, `p${i}`, instanceId),
        env.DB.prepare("INSERT INTO pool_members (pool_id, instance_id) VALUES (?, ?)").bind(`pool-${instanceId}-${pad(i)}`, instanceId),
      ]),
    );
    for (const query of ["", "?limit=500"]) {
      const res = await call(`/pools${query}`, { token: key });
      expect(res.status, query).toBe(200);
      expect(res.json.data).toHaveLength(N);
      expect(res.json.data.every((p: any) => p.instance_ids.length === 1 && p.instance_ids[0] === instanceId)).toBe(true);
    }
    const strangers = range(N).map((i) => `not-mine-${i}`);
    const res = await call("/pools", { method: "POST", token: key, body: { name: "big", instance_ids: [instanceId, ...strangers] } });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toMatchObject({ field: "instance_ids", unknown: strangers });
  });

  it(`a contact takes ${N} new tags and groups at once (POST /contacts/{id}/tags|groups, and a send's tags[] of 50), each in its timeline`, async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const contact = (await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777", name: "Ana" } })).json;
    const keys = range(100).map((i) => `k-${pad(i)}`);
    for (const segment of ["tags", "groups"]) {
      const res = await call(`/contacts/${contact.id}/${segment}`, { method: "POST", token: key, body: { add: keys } });
      expect(res.status, segment).toBe(200);
      expect(res.json[segment]).toHaveLength(100);
    }
    const { id } = await newInstance(key);
    const fleet = await connectedFleet(id, { onWhatsApp: { "5511988887777": "5511988887777@s.whatsapp.net" } });
    const stamp = range(50).map((i) => `sent-${pad(i)}`);
    const sent = await call("/messages/text", { method: "POST", token: key, body: { to: "+5511988887777", body: "hi", tags: stamp } });
    expect(sent.status).toBe(202);
    await waitFor(() => fleet.sends.length === 1);
    const after = (await call(`/contacts/${contact.id}`, { token: key })).json;
    expect(after.tags).toHaveLength(150);
    const events = await env.DB.prepare("SELECT type, count(*) AS n FROM contact_events WHERE contact_id = ? GROUP BY type ORDER BY type").bind(contact.id).all();
    expect(events.results).toEqual([
      { type: "group_added", n: 100 },
      { type: "tag_added", n: 150 },
    ]);
  });

  it(`the storage functions behind those take ${N} rows: dictionary entries, timeline events`, async () => {
    const { id: projectId, api_key: key } = await newProject();
    const contact = (await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777" } })).json;
    const d1 = db(env.DB);
    for (const d of [TAGS, CONTACT_GROUPS]) {
      await d1.batch([ensureEntries(d1, d, projectId, range(N).map((i) => ({ id: crypto.randomUUID(), project_id: projectId, key: `e-${pad(i)}`, name: `E ${i}` })))]);
    }
    expect((await call("/tags?limit=500", { token: key })).json.total).toBe(N);
    expect((await call("/contact-groups?limit=500", { token: key })).json.data.map((g: any) => g.name).slice(0, 2)).toEqual(["E 0", "E 1"]);
    const at = "2026-01-01T00:00:00.000Z";
    await d1.batch([
      insertContactEvents(
        d1,
        range(N).map((i) => ({ id: crypto.randomUUID(), project_id: projectId, contact_id: contact.id, type: "note", actor: "api", payload: { body: `n${i}`, n: i }, created_at: at })),
      ),
    ]);
    const notes = (await call(`/contacts/${contact.id}/history?limit=200`, { token: key })).json.data.filter((e: any) => e.type === "note");
    expect(notes).toHaveLength(N);
    expect(notes.find((e: any) => e.payload.body === "n7")).toMatchObject({ payload: { body: "n7", n: 7 }, created_at: at, actor: "api" });
  });

  it("GET /contacts?search= with 60 short words (each looked for in four columns) answers 200 and matches only contacts holding every word", async () => {
    const { api_key: key } = await newProject();
    await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777", name: "ab cd", email: "x@ef.com" } });
    await call("/contacts", { method: "POST", token: key, body: { phone: "+5511977776666", name: "ab" } });
    const words = range(60).map((i) => ["ab", "cd", "ef"][i % 3]).join(" ");
    const res = await call(`/contacts?search=${encodeURIComponent(words)}`, { token: key });
    expect(res.status).toBe(200);
    expect(res.json.data.map((c: any) => c.phone)).toEqual(["+5511988887777"]);
  });

  it(`a batch of ${N} LID mappings for known contacts moves each contact to its LID (their conversations looked up at once)`, async () => {
    const { id: projectId, api_key: key } = await newProject();
    const phones = range(N).map((i) => `+55119${pad(i)}${pad(i)}`);
    const imported = await call("/contacts/import", {
      method: "POST",
      token: key,
      body: { contacts: phones.map((phone) => ({ phone })) },
    });
    expect(imported.json.created).toBe(N);
    const pairs = phones.map((phone, i) => ({ lid: `${9000 + i}000000@lid`, pn: `${phone.slice(1)}@s.whatsapp.net` }));
    await learnMappings(env, projectId, null, pairs);
    const withLid = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE project_id = ? AND lid IS NOT NULL").bind(projectId).first<{ n: number }>();
    expect(withLid!.n).toBe(N);
  });
});

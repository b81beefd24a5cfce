/**
 * What a send did reaches D1 even when D1 refuses writes for a while: the
 * record waits in the number's Durable Object (its `send_records` journal)
 * and is retried until it lands, in order. D1's refusal is a real SQLite
 * trigger on `messages`, so every write path the edge has is refused.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { call, closeFleetSockets, connectedFleet, eventsUntil, fail, messageOf, newInstance, newProject, noPacing, waitFor } from "./helpers.ts";

const CUSTOMER_JID = "5511988887777@s.whatsapp.net";

afterEach(async () => {
  closeFleetSockets();
  await d1Works();
});

/** From now on D1 refuses every change to a message's status (as an outage would). */
const d1Refuses = () =>
  env.DB.exec("CREATE TRIGGER IF NOT EXISTS refuse_status BEFORE UPDATE OF status ON messages BEGIN SELECT RAISE(ABORT, 'D1 is down (test)'); END");
const d1Works = () => env.DB.exec("DROP TRIGGER IF EXISTS refuse_status");

const journalSize = (id: string) =>
  runInDurableObject(instanceOf(env, id), (_obj, state) => {
    const table = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'send_records'").toArray();
    return table.length === 0 ? 0 : state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM send_records").one().n;
  });

/** The journal once the object made its next write (here its alarm): entries applied are deleted with it. */
const journalAfterNextWrite = async (id: string) => {
  await runInDurableObject(instanceOf(env, id), (obj) => obj.alarm());
  return journalSize(id);
};

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  return { key, id: instance.id };
}

const sendText = (key: string, id: string, body: string) =>
  call("/messages/text", { method: "POST", token: key, body: { to: CUSTOMER_JID, body, instance_id: id } });

describe("records of sends while D1 refuses writes", () => {
  it("a message WhatsApp took while D1 refused the write is not left queued: it turns sent (and then delivered, in order, with its events) once D1 works again", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id);
    await d1Refuses();
    const res = await sendText(key, id, "during the outage");
    expect(res.status).toBe(202);
    await waitFor(() => fleet.sends.length === 1, 3_000, "the send to reach WhatsApp");
    fleet.socket.event("message.status", { wa_message_id: fleet.sends[0]!.wa_message_id, chat_jid: CUSTOMER_JID, status: "delivered" });
    // Both outcomes wait in the number's storage, the queue is empty, D1 still says queued.
    await waitFor(async () => (await journalSize(id)) === 2, 3_000, "two records in the journal");
    expect(await instanceOf(env, id).queueSize()).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect((await messageOf(key, res.json.id)).status).toBe("queued");

    await d1Works();
    // The retry is the object's alarm (within a second here); run it now rather than wait.
    await runDurableObjectAlarm(instanceOf(env, id));
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "delivered", 5_000, "the records to land");
    const message = await messageOf(key, res.json.id);
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(["queued", "sent", "delivered"]);
    expect(message.wa_message_id).toBe(fleet.sends[0]!.wa_message_id);
    expect(await journalAfterNextWrite(id)).toBe(0);
    const events = await eventsUntil(key, (es) => es.some((e) => e.type === "message.status"));
    expect(events.filter((e) => e.payload?.message_id === res.json.id).map((e) => [e.type, e.payload.status])).toEqual([
      ["message.sent", "sent"],
      ["message.status", "delivered"],
    ]);
    // The number's counters reached D1 too.
    expect((await call(`/instances/${id}`, { token: key })).json.sent_today).toBe(1);
  }, 30_000);

  it("keeps retrying through repeated refusals without holding up the next sends, and a failure lands as failed", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { answer: (frame) => (frame.content.text === "refused" ? fail("invalid_content") : undefined) });
    await d1Refuses();
    const first = await sendText(key, id, "one");
    const second = await sendText(key, id, "refused");
    const third = await sendText(key, id, "three");
    // WhatsApp gets the sends while D1 is down: nothing waits for D1.
    await waitFor(() => fleet.sends.length === 3, 5_000, "all three sends to reach the fleet");
    await waitFor(async () => (await journalSize(id)) === 3, 3_000, "three records");
    // Alarms come and go; D1 still refuses.
    await runDurableObjectAlarm(instanceOf(env, id));
    await new Promise((r) => setTimeout(r, 200));
    expect(await journalSize(id)).toBe(3);

    await d1Works();
    await runDurableObjectAlarm(instanceOf(env, id));
    await waitFor(async () => (await messageOf(key, third.json.id)).status === "sent", 5_000, "the records to land");
    expect((await messageOf(key, first.json.id)).status).toBe("sent");
    expect(await messageOf(key, second.json.id)).toMatchObject({ status: "failed", reason: "invalid_content" });
    expect(await journalAfterNextWrite(id)).toBe(0);
  }, 30_000);

  it("a sent message whose move landed in D1 while its answer never reached the object (a crash, a lost reply) is still announced, once, when its record is retried", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id);
    await d1Refuses();
    const res = await sendText(key, id, "answer lost");
    expect(res.status).toBe(202);
    await waitFor(async () => (await journalSize(id)) === 1, 3_000, "its record in the journal");
    // What the object's write did before the object stopped (or its answer was lost): D1 has the message as sent.
    await d1Works();
    await env.DB.prepare("UPDATE messages SET status = 'sent', sent_at = ?, wa_message_id = ? WHERE id = ?")
      .bind(new Date().toISOString(), fleet.sends[0]!.wa_message_id, res.json.id)
      .run();

    await runDurableObjectAlarm(instanceOf(env, id));
    const events = await eventsUntil(key, (es) => es.some((e) => e.type === "message.sent"), 5_000);
    expect(await journalAfterNextWrite(id)).toBe(0);
    expect(events.filter((e) => e.payload?.message_id === res.json.id).map((e) => e.type)).toEqual(["message.sent"]);
    expect((await messageOf(key, res.json.id)).status).toBe("sent");
  }, 30_000);
});

describe("a send's record once written and announced", () => {
  /** The object starting again on its storage, as after an eviction or a crash: nothing of the old one's memory. */
  const restart = (id: string) =>
    runInDurableObject(instanceOf(env, id), (obj, state) => new (obj.constructor as new (ctx: DurableObjectState, e: typeof env) => typeof obj)(state, env));

  it("an idle number deletes its applied entry on its own within seconds, so a hibernating object has nothing to replay at every wake", async () => {
    const { key, id } = await setup();
    await connectedFleet(id);
    const res = await sendText(key, id, "then nothing");
    await eventsUntil(key, (es) => es.some((e) => e.type === "message.sent" && e.payload.message_id === res.json.id));
    // No send, receipt or alarm follows: the entry goes with no write to ride on.
    await waitFor(async () => (await journalSize(id)) === 0, 8_000, "the applied entry to be deleted without a later write");
  }, 30_000);

  it("stays in the journal until the object's next write (no storage commit of its own), and a restart before that announces the message once: the hub refuses the replay by its event id", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id);
    const res = await sendText(key, id, "sent once");
    await eventsUntil(key, (es) => es.some((e) => e.type === "message.sent" && e.payload.message_id === res.json.id));
    // Written and announced: its entry is deleted with the next write, not on its own.
    expect(await journalSize(id)).toBe(1);

    // The object stops before that write: the one that starts finds the entry and applies it again.
    const fresh = await restart(id);
    await waitFor(
      async () => {
        await runInDurableObject(instanceOf(env, id), () => fresh.alarm());
        return (await journalSize(id)) === 0;
      },
      5_000,
      "the replayed entry to be deleted",
    );
    // A receipt later: the message moves on, and its `sent` is still the one event of its kind.
    fleet.socket.event("message.status", { wa_message_id: fleet.sends[0]!.wa_message_id, chat_jid: CUSTOMER_JID, status: "delivered" });
    const events = await eventsUntil(key, (es) => es.some((e) => e.type === "message.status"));
    expect(events.filter((e) => e.payload?.message_id === res.json.id).map((e) => [e.type, e.payload.status])).toEqual([
      ["message.sent", "sent"],
      ["message.status", "delivered"],
    ]);
    // The delivered record applied, the sent one's entry deleted with it; the next write takes the rest.
    expect(await journalAfterNextWrite(id)).toBe(0);
  }, 30_000);
});

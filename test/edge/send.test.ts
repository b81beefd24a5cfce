import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { call, connectInstance, connectedFleet, fail, messageOf, newInstance, newProject, noPacing, waitFor } from "./helpers.ts";

const CUSTOMER = "+5511988887777";
const CUSTOMER_JID = "5511988887777@s.whatsapp.net";
const onWhatsApp = { "5511988887777": CUSTOMER_JID, "551188887777": CUSTOMER_JID };

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  return { key, id: instance.id };
}

const send = (key: string, type: string, body: object, headers: Record<string, string> = {}) =>
  call(`/messages/${type}`, { method: "POST", token: key, body, headers });

describe("sending a text", () => {
  it("answers 202 queued, then the fleet sends it with the id chosen at accept, and the message turns sent", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { onWhatsApp });
    const res = await send(key, "text", { to: CUSTOMER, body: "Oi 👋", reference: "ticket-42" });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id: expect.any(String), status: "queued", instance_id: id, chat_jid: CUSTOMER_JID, reference: "ticket-42" });

    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    expect(fleet.sends).toHaveLength(1);
    expect(fleet.sends[0]).toMatchObject({ message_id: res.json.id, chat_jid: CUSTOMER_JID, content: { type: "text", text: "Oi 👋" } });
    const message = await messageOf(key, res.json.id);
    expect(message.wa_message_id).toBe(fleet.sends[0]!.wa_message_id);
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(["queued", "sent"]);
    expect(message.reference).toBe("ticket-42");
  });

  it("keeps a message accepted while no fleet runs the number, and sends it when one comes", async () => {
    const { key, id } = await setup();
    const res = await send(key, "text", { to: CUSTOMER_JID, body: "later", instance_id: id });
    expect(res.status).toBe(202);
    expect(await instanceOf(env, id).queueSize()).toBe(1);
    expect((await messageOf(key, res.json.id)).status).toBe("queued");

    const fleet = await connectedFleet(id);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    expect(fleet.sends.map((s) => s.content.text)).toEqual(["later"]);
  });

  it("sends in order, one at a time, and retries with the same WhatsApp id after the fleet vanished mid-send", async () => {
    const { key, id } = await setup();
    const first = await connectInstance(id, "fleet-a");
    await first.next();
    first.event("status", { state: "connected", jid: "5511900000001:1@s.whatsapp.net" });
    await waitFor(async () => (await instanceOf(env, id).status())?.state === "connected");
    const a = await send(key, "text", { to: CUSTOMER_JID, body: "one", instance_id: id });
    await send(key, "text", { to: CUSTOMER_JID, body: "two", instance_id: id });
    // The fleet gets the first send... and dies before answering.
    const frame = await first.next();
    expect(frame).toMatchObject({ t: "req", method: "message.send", params: { content: { text: "one" } } });
    first.event("release", {});
    await first.closed;

    const second = await connectedFleet(id, { fleetId: "fleet-b" });
    await waitFor(() => second.sends.length === 2, 5_000, "both sent");
    expect(second.sends.map((s) => s.content.text)).toEqual(["one", "two"]);
    // Same WhatsApp id as the first attempt: to WhatsApp it is the same message, not a second one.
    expect(second.sends[0]!.wa_message_id).toBe(frame.params.wa_message_id);
    await waitFor(async () => (await messageOf(key, a.json.id)).status === "sent");
  });

  it("returns the first result for a repeated Idempotency-Key and sends once", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { onWhatsApp });
    const headers = { "Idempotency-Key": "order-981" };
    const [one, two] = await Promise.all([
      send(key, "text", { to: CUSTOMER, body: "pay" }, headers),
      send(key, "text", { to: CUSTOMER, body: "pay" }, headers),
    ]);
    const three = await send(key, "text", { to: CUSTOMER, body: "pay" }, headers);
    expect(one.status).toBe(202);
    expect(two.json.id).toBe(one.json.id);
    expect(three.json.id).toBe(one.json.id);
    await waitFor(async () => (await messageOf(key, one.json.id)).status === "sent");
    await new Promise((r) => setTimeout(r, 100));
    expect(fleet.sends).toHaveLength(1);
  });

  it("fails a message as expired when its number never came back within the TTL", async () => {
    const { key, id } = await setup();
    const res = await send(key, "text", { to: CUSTOMER_JID, body: "too late", instance_id: id });
    await runInDurableObject(instanceOf(env, id), (_o, state) => {
      state.storage.sql.exec("UPDATE outbox SET expires_at = ?", Date.now() - 1);
    });
    await runDurableObjectAlarm(instanceOf(env, id));
    const message = await messageOf(key, res.json.id);
    expect(message).toMatchObject({ status: "failed", reason: "expired" });
    expect(await instanceOf(env, id).queueSize()).toBe(0);
  });

  it("fails a message the fleet says can never be sent, and lowers the number's health", async () => {
    const { key, id } = await setup();
    await connectedFleet(id, { answer: () => fail("invalid_content") });
    const res = await send(key, "text", { to: CUSTOMER_JID, body: "x", instance_id: id });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "failed", 3_000, "failed");
    expect((await messageOf(key, res.json.id)).reason).toBe("invalid_content");
    expect((await call(`/instances/${id}`, { token: key })).json.health).toBeLessThan(100);
  });

  it("fails a message WhatsApp refused, with its code, without retrying it", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { answer: () => fail("server_error", "463") });
    const res = await send(key, "text", { to: CUSTOMER_JID, body: "x", instance_id: id });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "failed", 3_000, "failed");
    expect((await messageOf(key, res.json.id)).reason).toBe("server_error_463");
    expect(fleet.sends).toHaveLength(1);
    expect((await call(`/instances/${id}`, { token: key })).json.health).toBeLessThanOrEqual(70);
  });

  it("retries a failed send a few times with backoff, then gives up with a reason", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { answer: () => fail("send_failed") });
    const res = await send(key, "text", { to: CUSTOMER_JID, body: "x", instance_id: id });
    for (let attempt = 1; attempt < 5; attempt++) {
      await waitFor(() => fleet.sends.length === attempt, 3_000, `attempt ${attempt}`);
      expect((await messageOf(key, res.json.id)).status).toBe("queued");
      // The backoff's wait, passed at once.
      await runInDurableObject(instanceOf(env, id), (_o, state) => {
        state.storage.sql.exec("UPDATE outbox SET not_before = 0");
      });
      await runDurableObjectAlarm(instanceOf(env, id));
    }
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "failed", 3_000, "failed");
    expect((await messageOf(key, res.json.id)).reason).toBe("send_failed");
    expect(new Set(fleet.sends.map((s) => s.wa_message_id)).size).toBe(1);
  });
});

describe("what a sent message keeps", () => {
  it("shows its WhatsApp id only once sent, and keeps a poll's secret and creation message for its votes", async () => {
    const { key, id } = await setup();
    const queued = await send(key, "text", { to: CUSTOMER_JID, body: "wait", instance_id: id });
    expect((await messageOf(key, queued.json.id)).wa_message_id).toBeNull();

    const fleet = await connectedFleet(id, {
      answer: (frame) =>
        frame.content.type === "poll"
          ? { wa_message_id: frame.wa_message_id, timestamp: 1_790_000_000, message_secret: "c2VjcmV0", poll_message: '{"pollCreationMessageV3":{}}' }
          : undefined,
    });
    await waitFor(async () => (await messageOf(key, queued.json.id)).status === "sent");
    expect((await messageOf(key, queued.json.id)).wa_message_id).toBe(fleet.sends[0]!.wa_message_id);

    const poll = await send(key, "poll", { to: CUSTOMER_JID, name: "Q?", options: ["a", "b"], instance_id: id });
    await waitFor(async () => (await messageOf(key, poll.json.id)).status === "sent");
    const row = await env.DB.prepare("SELECT message_secret, poll_message, sent_at FROM messages WHERE id = ?").bind(poll.json.id).first();
    expect(row).toMatchObject({ message_secret: "c2VjcmV0", poll_message: '{"pollCreationMessageV3":{}}' });
    expect(row!.sent_at).toBe(new Date(1_790_000_000_000).toISOString());
    // Secrets for decrypting votes are ours, not the API's.
    expect(JSON.stringify(await messageOf(key, poll.json.id))).not.toContain("c2VjcmV0");
  });
});

describe("receipts", () => {
  it("move a message forward, never back, and a 463 fails it and costs the number health", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { onWhatsApp });
    const res = await send(key, "text", { to: CUSTOMER, body: "hi" });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent");
    const wa = fleet.sends[0]!.wa_message_id;
    fleet.socket.event("message.status", { wa_message_id: wa, chat_jid: CUSTOMER_JID, status: "read" });
    fleet.socket.event("message.status", { wa_message_id: wa, chat_jid: CUSTOMER_JID, status: "delivered" });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "read");
    await new Promise((r) => setTimeout(r, 50));
    const message = await messageOf(key, res.json.id);
    expect(message.status).toBe("read");
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(["queued", "sent", "read"]);

    const other = await send(key, "text", { to: CUSTOMER, body: "again" });
    await waitFor(async () => (await messageOf(key, other.json.id)).status === "sent");
    fleet.socket.event("message.status", {
      wa_message_id: fleet.sends[1]!.wa_message_id,
      chat_jid: CUSTOMER_JID,
      status: "failed",
      error_code: "463",
    });
    await waitFor(async () => (await messageOf(key, other.json.id)).status === "failed");
    expect((await messageOf(key, other.json.id)).reason).toBe("server_error_463");
    const instance = (await call(`/instances/${id}`, { token: key })).json;
    expect(instance.health).toBeLessThan(100);
  });
});

/**
 * The edge's side of the receive path, driven as a fleet drives it: the
 * test holds the number's real fleet WebSocket and sends `message.received`
 * requests and `lid.mappings` events, with real D1, Durable Objects and the
 * event hub behind. (WhatsApp itself is in the e2e suite.)
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../edge/crypto.ts";
import { findChatNumber } from "../../edge/db/chat-numbers.ts";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { learnMappings } from "../../edge/services/identity.ts";
import { receiveMessage } from "../../edge/services/inbound.ts";
import { InboundMessage } from "../../shared/protocol.ts";
import {
  call,
  useFleetSockets,
  connectInstance,
  connectedFleet,
  countingEnv,
  deliver,
  eventsUntil,
  fail,
  inboundMessage,
  messageOf,
  newInstance,
  newProject,
  noPacing,
  waitFor,
} from "./helpers.ts";

const PHONE = "5511988887777";
const PHONE_JID = `${PHONE}@s.whatsapp.net`;
/** The same number without the 9th digit, as WhatsApp registered many Brazilian numbers. */
const PHONE_8_JID = "551188887777@s.whatsapp.net";
const LID = "123456789012345@lid";

useFleetSockets();

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  const fleet = await connectedFleet(instance.id, { onWhatsApp: { [PHONE]: PHONE_JID, "551188887777": PHONE_JID } });
  return { key, projectId, id: instance.id, fleet };
}

const conversations = async (key: string, query = "") => (await call(`/conversations${query}`, { token: key })).json;
const history = async (key: string, jid: string, query = "") =>
  (await call(`/conversations/${encodeURIComponent(jid)}/messages${query}`, { token: key })).json;
const ofType = (type: string) => (events: any[]) => events.filter((e) => e.type === type);

describe("receiving a message", () => {
  it("stores a text once even when the fleet sends it twice, and again after a fleet restart", async () => {
    const { key, id, fleet } = await setup();
    const message = inboundMessage(PHONE_JID, { body: "Oi, tudo bem?" });
    const first = await deliver(fleet.socket, message);
    expect(first).toEqual({ message_id: expect.any(String), duplicate: false });
    expect(await deliver(fleet.socket, message)).toEqual({ message_id: first.message_id, duplicate: true });

    // The fleet process dies and comes back (same fleet id), replaying what it held as offline messages.
    fleet.socket.ws.close(1000, "crash");
    await fleet.socket.closed;
    const restarted = await connectedFleet(id);
    expect(await deliver(restarted.socket, { ...message, offline: true })).toEqual({ message_id: first.message_id, duplicate: true });

    const page = await history(key, PHONE_JID);
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({
      id: first.message_id,
      direction: "inbound",
      status: "received",
      instance_id: id,
      chat_jid: PHONE_JID,
      type: "text",
      from: PHONE_JID,
      body: "Oi, tudo bem?",
      wa_message_id: message.wa_message_id,
    });
    // One event for one message: the repeats announced nothing.
    const events = await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1);
    expect(ofType("message.received")(events)).toHaveLength(1);
    expect(ofType("message.received")(events)[0]).toMatchObject({
      instance_id: id,
      sender: { jid: PHONE_JID, lid: null, name: "Maria" },
      payload: { message_id: first.message_id, wa_message_id: message.wa_message_id, type: "text", from: PHONE_JID, body: "Oi, tudo bem?" },
    });
  });

  it("a repeat of a message whose event went out makes no second event and no second webhook delivery, even where the object died before forgetting its old 'not announced' mark", async () => {
    const { key, projectId, id, fleet } = await setup();
    await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/received-once" } });
    const message = inboundMessage(PHONE_JID, { body: "chegou?" });
    const first = await deliver(fleet.socket, message);
    // What an object that died between publishing and clearing its mark left (numbers kept such marks until events had ids made from their messages).
    await runInDurableObject(instanceOf(env, id), (_o, state) => state.storage.put(`inbound:${message.wa_message_id}`, Date.now()));
    expect(await deliver(fleet.socket, message)).toEqual({ message_id: first.message_id, duplicate: true });
    expect(await deliver(fleet.socket, message)).toEqual({ message_id: first.message_id, duplicate: true });
    await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1);
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "marcador" }));
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2));
    expect(events.map((e) => e.payload.body)).toEqual(["chegou?", "marcador"]);
    const deliveries = () =>
      env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE project_id = ? AND event_type = 'message.received'").bind(projectId).first<number>("n");
    await waitFor(async () => (await deliveries()) === 2, 3_000, "both messages' deliveries");
    expect(await deliveries()).toBe(2);
  });

  it("announces a stored message on its repeat when its event never went out (the hub refused it), exactly once overall", async () => {
    const { key, projectId, id, fleet } = await setup();
    const message = inboundMessage(PHONE_JID, { body: "guardada, não anunciada" });
    // The message reaches D1, then the hub refuses its event: the fleet gets an error, keeps it and resends.
    const hubDown = { ...env, EVENTS: { idFromName: () => { throw new Error("hub unreachable (test)"); } } } as unknown as typeof env;
    await expect(receiveMessage(hubDown, { project_id: projectId, instance_id: id }, InboundMessage.parse(message))).rejects.toThrow("hub unreachable");
    expect((await history(key, PHONE_JID)).data).toHaveLength(1);

    const again = await deliver(fleet.socket, message);
    expect(again).toEqual({ message_id: expect.any(String), duplicate: true });
    expect(await deliver(fleet.socket, message)).toEqual({ message_id: again.message_id, duplicate: true });
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "marcador" }));
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2));
    expect(events.map((e) => [e.payload.message_id, e.payload.body])).toEqual([
      [again.message_id, "guardada, não anunciada"],
      [expect.any(String), "marcador"],
    ]);
    expect((await history(key, PHONE_JID)).data).toHaveLength(2);
  });

  it("opens the customer's conversation: contact, number, unread count and the 24-hour window", async () => {
    const { key, id, fleet } = await setup();
    const sent = Math.floor(Date.now() / 1000) - 60;
    const one = await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "um", timestamp: sent }));
    const two = await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "dois", timestamp: sent + 1, push_name: "Maria Silva" }));

    const list = await conversations(key);
    expect(list.data).toHaveLength(1);
    const convo = list.data[0];
    expect(convo).toMatchObject({
      chat_jid: PHONE_JID,
      contact: { phone: `+${PHONE}`, jid: PHONE_JID, lid: null, name: "Maria Silva" },
      instance_id: id,
      last_message: { id: two.message_id, type: "text", direction: "inbound", body: "dois", status: "received" },
      unread_count: 2,
      last_inbound_at: new Date((sent + 1) * 1000).toISOString(),
      window_expires_at: new Date((sent + 1) * 1000 + 86_400_000).toISOString(),
      window_open: true,
    });
    const events = await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2);
    const received = ofType("message.received")(events);
    expect(received.map((e) => e.payload.message_id)).toEqual([one.message_id, two.message_id]);
    expect(new Set(received.map((e) => e.conversation_id))).toEqual(new Set([convo.id]));
    expect(new Set(received.map((e) => e.contact_id))).toEqual(new Set([convo.contact.id]));

    const read = await call(`/conversations/${PHONE_JID}/read`, { method: "POST", token: key });
    expect(read.status).toBe(200);
    expect((await conversations(key)).data[0].unread_count).toBe(0);
  });

  it("treats both Brazilian forms of a number (with and without the 9th digit) as one contact", async () => {
    const { key, fleet } = await setup();
    await deliver(fleet.socket, inboundMessage(PHONE_8_JID, { body: "sem o nove" }));
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "com o nove" }));
    const list = await conversations(key);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ chat_jid: PHONE_8_JID, contact: { phone: "+551188887777" }, unread_count: 2 });
    // The client may name the customer either way.
    for (const jid of [PHONE_JID, PHONE_8_JID, `+${PHONE}`, "+55 11 8888-7777"]) {
      expect((await history(key, jid)).data.map((m: any) => m.body)).toEqual(["com o nove", "sem o nove"]);
    }
  });

  it("makes the receiving number the customer's: the next send without instance_id goes through it", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const a = await newInstance(key, "a");
    const b = await newInstance(key, "b");
    const customers = { x: "5511911110001", y: "5511911110002", z: "5511911110003" };
    const onWhatsApp = Object.fromEntries(Object.values(customers).map((p) => [p, `${p}@s.whatsapp.net`]));
    const fleetA = await connectedFleet(a.id, { onWhatsApp, jid: "5511900000001:1@s.whatsapp.net" });
    const fleetB = await connectedFleet(b.id, { onWhatsApp, jid: "5511900000002:1@s.whatsapp.net" });
    // x wrote to b; y and z wrote to a. Round-robin alone would give x and z the same number.
    await deliver(fleetB.socket, inboundMessage(`${customers.x}@s.whatsapp.net`));
    await deliver(fleetA.socket, inboundMessage(`${customers.y}@s.whatsapp.net`));
    await deliver(fleetA.socket, inboundMessage(`${customers.z}@s.whatsapp.net`));
    const via: Record<string, string> = {};
    for (const [name, phone] of Object.entries(customers)) {
      const res = await call("/messages/text", { method: "POST", token: key, body: { to: `+${phone}`, body: "Olá!" } });
      expect(res.status).toBe(202);
      via[name] = res.json.instance_id;
    }
    expect(via).toEqual({ x: b.id, y: a.id, z: a.id });
  });
});

describe("the cost of a received message", () => {
  it("costs a new customer's first message one D1 round trip and their next one one: contact and conversation found (or created) by the batch that stores the message and what it changes", async () => {
    const { key, projectId, id } = await setup();
    const scope = { project_id: projectId, instance_id: id };
    const firstCount = countingEnv();
    // The contact created with its conversation, the message stored, in one batch.
    const first = await receiveMessage(firstCount.env, scope, InboundMessage.parse(inboundMessage(PHONE_JID, { body: "primeira" })));
    expect(firstCount.trips.count).toBe(1);
    const counted = countingEnv();
    const next = await receiveMessage(counted.env, scope, InboundMessage.parse(inboundMessage(PHONE_8_JID, { body: "segunda" })));
    expect(next.duplicate).toBe(false);
    expect(counted.trips.count).toBe(1);
    expect(firstCount.affinity.count + counted.affinity.count).toBe(0);

    // The same contact and conversation as the first message (found by the other Brazilian form), and both announced.
    const [a, b] = await Promise.all([messageOf(key, first.message_id!), messageOf(key, next.message_id!)]);
    expect(b).toMatchObject({ contact_id: a.contact_id, conversation_id: a.conversation_id, chat_jid: PHONE_JID });
    expect((await conversations(key)).data).toMatchObject([{ id: a.conversation_id, unread_count: 2 }]);
    const events = await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2);
    expect(ofType("message.received")(events).map((e) => e.payload.body)).toEqual(["primeira", "segunda"]);
  });

  it("costs a message from a LID with the phone alongside one D1 round trip once the pair is known and its contact holds both: the LID map is read in the batch that stores it", async () => {
    const { key, projectId, id } = await setup();
    const scope = { project_id: projectId, instance_id: id };
    const byLid = (body: string) => InboundMessage.parse(inboundMessage(LID, { chat_jid_alt: PHONE_JID, sender_jid_alt: PHONE_JID, body }));
    const first = await receiveMessage(env, scope, byLid("primeira"));
    const counted = countingEnv();
    const next = await receiveMessage(counted.env, scope, byLid("segunda"));
    expect(next.duplicate).toBe(false);
    expect(counted.trips.count).toBe(1);
    // Filed as before: one contact and conversation, keyed on the phone.
    const [a, b] = await Promise.all([messageOf(key, first.message_id!), messageOf(key, next.message_id!)]);
    expect(b).toMatchObject({ contact_id: a.contact_id, conversation_id: a.conversation_id, chat_jid: PHONE_JID });
  });

  it("moves the chat to the number the customer wrote to in the batch that stores the message, with no Durable Object; a repeat of an older message does not move it back", async () => {
    const { key, projectId, id } = await setup();
    const other = await newInstance(key, "n2");
    const older = InboundMessage.parse(inboundMessage(PHONE_JID, { body: "para o primeiro" }));
    await receiveMessage(env, { project_id: projectId, instance_id: id }, older);
    expect(await findChatNumber(env.DB, projectId, PHONE_JID)).toBe(id);

    const counted = countingEnv();
    await receiveMessage(counted.env, { project_id: projectId, instance_id: other.id }, InboundMessage.parse(inboundMessage(PHONE_JID, { body: "para o outro" })));
    expect([counted.trips.count, counted.affinity.count]).toEqual([1, 0]);
    expect(await findChatNumber(env.DB, projectId, PHONE_JID)).toBe(other.id);

    // WhatsApp redelivers the first message to its number: already stored, it changes nothing.
    expect((await receiveMessage(env, { project_id: projectId, instance_id: id }, older)).duplicate).toBe(true);
    expect(await findChatNumber(env.DB, projectId, PHONE_JID)).toBe(other.id);
  });
});

/** What a received message left in D1: its row's link, its contact's and conversation's figures, its history, the chat's number, the project's count. */
async function filed(projectId: string, messageId: string) {
  const row = (sql: string, ...values: unknown[]) => env.DB.prepare(sql).bind(...values).first<any>();
  const message = await row("SELECT chat_jid, sender_jid, contact_id, conversation_id, direction, status, created_at FROM messages WHERE id = ?", messageId);
  return {
    message,
    contact: await row(
      "SELECT id, phone, jid, lid, name, source, instance_id, message_count, last_message_at FROM contacts WHERE project_id = ? AND id = ?",
      projectId,
      message.contact_id,
    ),
    conversation: await row(
      "SELECT id, contact_id, chat_jid, instance_id, last_message_id, last_message_at, last_inbound_at, unread_count FROM conversations WHERE project_id = ? AND id = ?",
      projectId,
      message.conversation_id,
    ),
    history: (await env.DB.prepare("SELECT status FROM message_statuses WHERE message_id = ?").bind(messageId).all()).results,
    chat_number: await findChatNumber(env.DB, projectId, message.chat_jid),
    received: (await row("SELECT coalesce(sum(received), 0) AS n FROM metric_counts WHERE project_id = ? AND instance_id <> '' AND grain = 'day'", projectId)).n,
  };
}

describe("a customer's message stored and filed in one D1 round trip (the figures as identity.ts's path leaves them)", () => {
  const at = (seconds: number) => new Date(seconds * 1000).toISOString();

  async function receiving() {
    const { key, projectId, id } = await setup();
    const scope = { project_id: projectId, instance_id: id };
    const avatars: { contact_id: string; jid: string }[] = [];
    const receive = async (fields: Record<string, unknown>, chat = PHONE_JID) => {
      const counted = countingEnv();
      const msg = InboundMessage.parse(inboundMessage(chat, fields));
      const result = await receiveMessage(counted.env, scope, msg, { fetchAvatar: (c) => void avatars.push(c) });
      return { ...result, trips: counted.trips.count, msg };
    };
    return { key, projectId, id, avatars, receive };
  }

  it("a first message: its contact and conversation created as identity.ts creates them, the chat's number and the avatar asked for, in one round trip", async () => {
    const { key, projectId, id, avatars, receive } = await receiving();
    const now = Math.floor(Date.now() / 1000);
    const first = await receive({ body: "primeira", timestamp: now - 5 });
    expect([first.duplicate, first.trips]).toEqual([false, 1]);
    const f = await filed(projectId, first.message_id!);
    expect(f.message).toMatchObject({ chat_jid: PHONE_JID, sender_jid: PHONE_JID, direction: "inbound", status: "received" });
    expect(f.contact).toMatchObject({ phone: `+${PHONE}`, jid: PHONE_JID, lid: null, name: "Maria", source: "inbound", instance_id: id, message_count: 1 });
    expect(f.contact.last_message_at).toBe(f.message.created_at);
    expect(f.conversation).toEqual({
      id: f.message.conversation_id,
      contact_id: f.contact.id,
      chat_jid: PHONE_JID,
      instance_id: id,
      last_message_id: first.message_id,
      last_message_at: f.message.created_at,
      last_inbound_at: at(now - 5),
      unread_count: 1,
    });
    expect([f.history, f.chat_number, f.received]).toEqual([[{ status: "received" }], id, 1]);
    expect(avatars).toEqual([{ contact_id: f.contact.id, jid: PHONE_JID }]);
    const [event] = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1));
    expect(event).toMatchObject({
      contact_id: f.contact.id,
      conversation_id: f.conversation.id,
      sender: { jid: PHONE_JID, lid: null, name: "Maria" },
      payload: { message_id: first.message_id, from: PHONE_JID, body: "primeira" },
    });
  });

  it("a customer writing again: one more message and unread, the newer push name, the last message, their window, in one round trip", async () => {
    const { key, projectId, id, receive } = await receiving();
    const now = Math.floor(Date.now() / 1000);
    const first = await receive({ body: "um", timestamp: now - 60 });
    const other = await newInstance(key, "n2");
    // Written to the project's other number: the chat moves to it.
    const again = await receiveMessage(countingEnv().env, { project_id: projectId, instance_id: other.id }, InboundMessage.parse(inboundMessage(PHONE_JID, { body: "dois", timestamp: now - 30, push_name: "Maria Silva" })));
    const before = await filed(projectId, again.message_id!);
    const third = await receive({ body: "três", timestamp: now - 10, push_name: null }, PHONE_8_JID);
    expect([third.duplicate, third.trips]).toEqual([false, 1]);
    const f = await filed(projectId, third.message_id!);
    expect(f.message).toEqual({ ...before.message, sender_jid: PHONE_JID, created_at: f.message.created_at });
    expect(f.contact).toEqual({ ...before.contact, name: "Maria Silva", instance_id: id, message_count: 3, last_message_at: f.message.created_at });
    expect(f.conversation).toEqual({
      ...before.conversation,
      instance_id: id,
      last_message_id: third.message_id,
      last_message_at: f.message.created_at,
      last_inbound_at: at(now - 10),
      unread_count: 3,
    });
    expect([f.chat_number, f.received]).toEqual([id, 3]);
    expect((await filed(projectId, first.message_id!)).message.conversation_id).toBe(f.conversation.id);
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 3));
    expect(events[2]).toMatchObject({
      instance_id: id,
      contact_id: f.contact.id,
      conversation_id: f.conversation.id,
      sender: { jid: PHONE_JID, lid: null, name: "Maria Silva" },
      payload: { from: PHONE_JID, body: "três" },
    });
  });

  it("a conversation the client read, its 24-hour window closed: the customer's message reopens it (one unread, the window from this message), in one round trip", async () => {
    const { key, projectId, receive } = await receiving();
    await receive({ body: "ontem" });
    expect((await call(`/conversations/${PHONE_JID}/read`, { method: "POST", token: key })).status).toBe(200);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    await env.DB.prepare("UPDATE conversations SET last_inbound_at = ? WHERE project_id = ?").bind(twoDaysAgo, projectId).run();
    expect((await conversations(key)).data[0]).toMatchObject({ unread_count: 0, window_open: false });
    const now = Math.floor(Date.now() / 1000);
    const again = await receive({ body: "voltei", timestamp: now });
    expect(again.trips).toBe(1);
    expect((await filed(projectId, again.message_id!)).conversation).toMatchObject({ unread_count: 1, last_message_id: again.message_id, last_inbound_at: at(now) });
    expect((await conversations(key)).data[0]).toMatchObject({ unread_count: 1, window_open: true, last_message: { id: again.message_id } });
  });

  it("a contact deleted between two messages: the next one gets a new contact and conversation, as a first message does, in one round trip", async () => {
    const { key, projectId, receive } = await receiving();
    const first = await receive({ body: "antes" });
    const gone = await filed(projectId, first.message_id!);
    expect((await call(`/contacts/${gone.contact.id}`, { method: "DELETE", token: key })).status).toBe(204);
    const next = await receive({ body: "depois" });
    expect([next.duplicate, next.trips]).toEqual([false, 1]);
    const f = await filed(projectId, next.message_id!);
    expect(f.contact.id).not.toBe(gone.contact.id);
    expect(f.conversation.id).not.toBe(gone.conversation.id);
    expect(f.contact).toMatchObject({ phone: `+${PHONE}`, jid: PHONE_JID, message_count: 1, name: "Maria" });
    expect(f.conversation).toMatchObject({ contact_id: f.contact.id, chat_jid: PHONE_JID, unread_count: 1, last_message_id: next.message_id });
  });

  it("a LID-only contact merged into the phone's between two messages: the next is filed under the merged contact and conversation, its LID on the event, in one round trip", async () => {
    const { key, projectId, id, receive } = await receiving();
    await receive({ body: "pelo telefone" });
    const byLid = await receive({ body: "pelo lid", push_name: null }, LID);
    expect(byLid.trips).toBeGreaterThan(1);
    await learnMappings(env, projectId, id, [{ lid: LID, pn: PHONE_JID }]);
    const next = await receive({ body: "de novo" });
    expect(next.trips).toBe(1);
    const f = await filed(projectId, next.message_id!);
    expect(f.contact).toMatchObject({ phone: `+${PHONE}`, lid: LID, message_count: 3 });
    expect(f.conversation).toMatchObject({ chat_jid: PHONE_JID, unread_count: 3, last_message_id: next.message_id });
    expect((await filed(projectId, byLid.message_id!)).message).toMatchObject({ contact_id: f.contact.id, conversation_id: f.conversation.id });
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 3));
    expect(events[2]).toMatchObject({ contact_id: f.contact.id, conversation_id: f.conversation.id, sender: { jid: PHONE_JID, lid: LID, name: "Maria" } });
  });

  it("a customer named by LID with their phone alongside: the first message learns the pair through identity.ts, the next is filed in one round trip with the LID on its event; a LID WhatsApp gave another phone goes through identity.ts again", async () => {
    const { key, projectId, id, receive } = await receiving();
    const pair = (phoneJid: string) => ({ chat_jid_alt: phoneJid, sender_jid_alt: phoneJid });
    const first = await receive({ ...pair(PHONE_JID), body: "um" }, LID);
    expect(first.trips).toBeGreaterThan(1);
    const next = await receive({ ...pair(PHONE_JID), body: "dois", push_name: "Maria Lid" }, LID);
    expect([next.duplicate, next.trips]).toEqual([false, 1]);
    const f = await filed(projectId, next.message_id!);
    expect(f.message).toMatchObject({ chat_jid: PHONE_JID, sender_jid: PHONE_JID });
    expect(f.contact).toMatchObject({ phone: `+${PHONE}`, jid: PHONE_JID, lid: LID, name: "Maria Lid", message_count: 2, instance_id: id });
    expect(f.conversation).toMatchObject({ chat_jid: PHONE_JID, unread_count: 2, last_message_id: next.message_id });
    expect((await filed(projectId, first.message_id!)).message).toMatchObject({ contact_id: f.contact.id, conversation_id: f.conversation.id });
    expect(f.chat_number).toBe(id);
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2));
    expect(events[1]).toMatchObject({ contact_id: f.contact.id, conversation_id: f.conversation.id, sender: { jid: PHONE_JID, lid: LID, name: "Maria Lid" } });

    const OTHER_JID = "5511977776666@s.whatsapp.net";
    const moved = await receive({ ...pair(OTHER_JID), body: "outro" }, LID);
    expect(moved.trips).toBeGreaterThan(1);
    const m = await filed(projectId, moved.message_id!);
    expect(m.contact).toMatchObject({ phone: "+5511977776666", lid: LID, message_count: 1 });
    expect(m.conversation).toMatchObject({ chat_jid: OTHER_JID, unread_count: 1 });
    expect((await filed(projectId, next.message_id!)).contact).toMatchObject({ id: f.contact.id, lid: null, message_count: 2 });
  });

  it("a reply to a message in the conversation's chat (keyed on the other Brazilian form): the quote found and stored, in three round trips (the quote, the batch, our reference) where it took four", async () => {
    const { key, projectId, receive } = await receiving();
    const quoted = await receive({ body: "sem o nove", wa_message_id: "WAQUOTED0001" }, PHONE_8_JID);
    const reply = await receive({ body: "respondendo", quoted_id: "WAQUOTED0001" });
    expect([reply.duplicate, reply.trips]).toEqual([false, 3]);
    const stored = await env.DB.prepare("SELECT chat_jid, conversation_id, quoted_id, content FROM messages WHERE id = ?").bind(reply.message_id).first<any>();
    expect({ ...stored, content: JSON.parse(stored.content) }).toMatchObject({
      chat_jid: PHONE_8_JID,
      conversation_id: (await filed(projectId, quoted.message_id!)).conversation.id,
      quoted_id: "WAQUOTED0001",
      content: { body: "respondendo", quoted_message_id: quoted.message_id },
    });
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2));
    expect(events[1].payload).toMatchObject({ from: PHONE_8_JID, quoted_id: "WAQUOTED0001", body: "respondendo" });
  });

  it("a contact entered by hand, its phone not confirmed by WhatsApp: SQL cannot file it, identity.ts confirms the phone and files it (no second row); the next message costs one round trip", async () => {
    const { key, projectId, receive } = await receiving();
    const manual = (await call("/contacts", { method: "POST", token: key, body: { phone: `+${PHONE}`, name: "Ana" } })).json;
    const first = await receive({ body: "oi" });
    expect(first.trips).toBeGreaterThan(1);
    const f = await filed(projectId, first.message_id!);
    expect(f.contact).toMatchObject({ id: manual.id, jid: PHONE_JID, name: "Ana", message_count: 1 });
    expect(f.conversation).toMatchObject({ contact_id: manual.id, unread_count: 1, last_message_id: first.message_id });
    expect([f.history, f.received]).toEqual([[{ status: "received" }], 1]);
    const next = await receive({ body: "oi de novo" });
    expect(next.trips).toBe(1);
    expect((await filed(projectId, next.message_id!)).contact).toMatchObject({ id: manual.id, name: "Ana", message_count: 2 });
  });

  it("a repeat: the first copy's id, no second row, nothing counted twice, in two round trips (the batch, then the customer looked up to announce it again); announced again with its contact and conversation, which the hub refuses as the event it already has", async () => {
    const { key, projectId, receive } = await receiving();
    const first = await receive({ body: "uma vez", wa_message_id: "WAREPEATED01" });
    const repeat = await receive({ body: "uma vez", wa_message_id: "WAREPEATED01" });
    expect([repeat.message_id, repeat.duplicate, repeat.trips]).toEqual([first.message_id, true, 2]);
    const f = await filed(projectId, first.message_id!);
    expect(f.contact.message_count).toBe(1);
    expect(f.conversation.unread_count).toBe(1);
    expect([f.history, f.received]).toEqual([[{ status: "received" }], 1]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE wa_message_id = 'WAREPEATED01'").first<any>()).n).toBe(1);

    // Both attempts announced it, with the contact and conversation it was filed under: one event.
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1));
    expect(events.map((e) => [e.payload.message_id, e.contact_id, e.conversation_id, e.sender.jid])).toEqual([
      [first.message_id, f.contact.id, f.conversation.id, PHONE_JID],
    ]);
    expect((await filed(projectId, first.message_id!)).conversation.unread_count).toBe(1);
  });

});

describe("canonical identity: LIDs", () => {
  it("keys a LID sender's chat on the phone when WhatsApp gives it alongside, and remembers the pair", async () => {
    const { key, fleet } = await setup();
    await deliver(fleet.socket, inboundMessage(LID, { chat_jid_alt: PHONE_JID, sender_jid_alt: PHONE_JID, body: "pelo lid, com telefone" }));
    const list = await conversations(key);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ chat_jid: PHONE_JID, contact: { phone: `+${PHONE}`, jid: PHONE_JID, lid: LID } });
    // A later message by LID alone lands in the same conversation: the pair was learned.
    await deliver(fleet.socket, inboundMessage(LID, { body: "só o lid" }));
    expect((await history(key, PHONE_JID)).data.map((m: any) => m.body)).toEqual(["só o lid", "pelo lid, com telefone"]);
    expect((await conversations(key)).data).toHaveLength(1);
    const events = await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2);
    expect(ofType("message.received")(events).map((e) => e.sender)).toEqual([
      { jid: PHONE_JID, lid: LID, name: "Maria" },
      { jid: PHONE_JID, lid: LID, name: "Maria" },
    ]);
  });

  it("a LID-only customer takes their phone when the mapping arrives: one conversation, keyed on the phone", async () => {
    const { key, projectId, id, fleet } = await setup();
    const first = await deliver(fleet.socket, inboundMessage(LID, { body: "escrevo pelo lid" }));
    let list = await conversations(key);
    expect(list.data).toMatchObject([{ chat_jid: LID, contact: { phone: null, jid: null, lid: LID } }]);
    const before = list.data[0];

    fleet.socket.event("lid.mappings", { mappings: [{ lid: LID, pn: `${PHONE}:3@s.whatsapp.net` }] });
    await waitFor(async () => (await conversations(key)).data[0]?.chat_jid === PHONE_JID, 3_000, "the phone");
    list = await conversations(key);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ id: before.id, chat_jid: PHONE_JID, unread_count: 1, contact: { id: before.contact.id, phone: `+${PHONE}`, jid: PHONE_JID, lid: LID } });
    // Its history moved along, and the client may ask by either name.
    for (const jid of [PHONE_JID, LID, `+${PHONE}`]) {
      expect((await history(key, jid)).data).toMatchObject([{ id: first.message_id, chat_jid: PHONE_JID, from: PHONE_JID }]);
    }
    // The number that talked to the LID keeps the customer.
    expect(await findChatNumber(env.DB, projectId, PHONE_JID)).toBe(id);
  });

  it("merges a LID-only contact into the phone's contact when the mapping shows they are one person", async () => {
    const { key, fleet, id } = await setup();
    const byPhone = await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "pelo telefone", timestamp: Math.floor(Date.now() / 1000) - 10 }));
    const byLid = await deliver(fleet.socket, inboundMessage(LID, { body: "pelo lid", push_name: null }));
    const two = (await conversations(key)).data;
    expect(two).toHaveLength(2);
    const phoneConvo = two.find((c: any) => c.chat_jid === PHONE_JID);
    const lidConvo = two.find((c: any) => c.chat_jid === LID);

    const mapping = { mappings: [{ lid: LID, pn: PHONE_JID }] };
    fleet.socket.event("lid.mappings", mapping);
    await waitFor(async () => (await conversations(key)).data.length === 1, 3_000, "one conversation");
    const [merged] = (await conversations(key)).data;
    expect(merged).toMatchObject({
      id: phoneConvo.id,
      chat_jid: PHONE_JID,
      contact: { id: phoneConvo.contact.id, phone: `+${PHONE}`, lid: LID, name: "Maria" },
      instance_id: id,
      unread_count: 2,
      last_message: { id: byLid.message_id, body: "pelo lid" },
    });
    expect((await history(key, LID)).data.map((m: any) => [m.id, m.chat_jid])).toEqual([
      [byLid.message_id, PHONE_JID],
      [byPhone.message_id, PHONE_JID],
    ]);
    const events = await eventsUntil(key, (e) => ofType("contact.merged")(e).length >= 1);
    expect(ofType("contact.merged")(events)).toEqual([
      expect.objectContaining({
        instance_id: id,
        payload: { from_contact_id: lidConvo.contact.id, into_contact_id: phoneConvo.contact.id, lid: LID, jid: PHONE_JID },
      }),
    ]);

    // Told again (history sync repeats itself): nothing changes, nothing is announced.
    fleet.socket.event("lid.mappings", mapping);
    await deliver(fleet.socket, inboundMessage(LID, { body: "de novo" }));
    expect((await conversations(key)).data).toMatchObject([{ id: phoneConvo.id, unread_count: 3 }]);
    expect(ofType("contact.merged")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 3))).toHaveLength(1);
  });
});

const send = async (key: string, type: string, body: object) => {
  const res = await call(`/messages/${type}`, { method: "POST", token: key, body });
  if (res.status !== 202) throw new Error(`send ${type}: ${res.status} ${JSON.stringify(res.json)}`);
  await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, `${type} sent`);
  return messageOf(key, res.json.id);
};

describe("replies, reactions and votes on our messages", () => {
  it("names a poll vote's options from the poll we sent, and keeps the hashes out", async () => {
    const { key, id, fleet } = await setup();
    const poll = await send(key, "poll", { to: PHONE_JID, name: "Which slot?", options: ["Morning", "Afternoon", "Evening"], selectable_count: 2, instance_id: id });
    const hashes = ["Evening", "Afternoon"].map((o) => sha256Hex(o));
    const vote = await deliver(
      fleet.socket,
      inboundMessage(PHONE_JID, { type: "poll_vote", body: null, quoted_id: poll.wa_message_id, poll_vote: { poll_message_id: poll.wa_message_id, selected_hashes: hashes } }),
    );
    const unknown = await deliver(
      fleet.socket,
      inboundMessage(PHONE_JID, { type: "poll_vote", body: null, poll_vote: { poll_message_id: "3EB0NOTOURS", selected_hashes: hashes } }),
    );
    const page = await history(key, PHONE_JID);
    const byId = Object.fromEntries(page.data.map((m: any) => [m.id, m]));
    expect(byId[vote.message_id]).toMatchObject({
      type: "poll_vote",
      body: "Evening, Afternoon",
      poll_vote: { poll_message_id: poll.wa_message_id, selected: ["Evening", "Afternoon"] },
    });
    expect(byId[unknown.message_id]).toMatchObject({ body: "", poll_vote: { poll_message_id: "3EB0NOTOURS", selected: [] } });
    const events = await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2);
    const [named, blind] = ofType("message.received")(events);
    expect(named.payload).toMatchObject({ type: "poll_vote", body: "Evening, Afternoon", poll_vote: { selected: ["Evening", "Afternoon"] } });
    expect(blind.payload.poll_vote).toEqual({ poll_message_id: "3EB0NOTOURS", selected: [] });
    expect(JSON.stringify(events)).not.toContain(hashes[0]);
  });

  it("carries our reference on a reply or reaction to our message, whichever part of a two-part OTP it quotes", async () => {
    const { key, id, fleet } = await setup();
    const text = await send(key, "text", { to: PHONE_JID, body: "Your order shipped", reference: "order-981", instance_id: id });
    const otp = await send(key, "otp", { to: PHONE_JID, code: "738291", reference: "login-7", instance_id: id });
    const [context, code] = otp.wa_message_ids;
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "Thanks!", quoted_id: text.wa_message_id }));
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { type: "reaction", body: "❤️", quoted_id: text.wa_message_id }));
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "which code?", quoted_id: context }));
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "got it", quoted_id: code }));
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "unrelated", quoted_id: "3EB0SOMETHINGELSE" }));
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 5));
    expect(events.map((e) => [e.payload.body, e.payload.quoted_id, e.reference])).toEqual([
      ["Thanks!", text.wa_message_id, "order-981"],
      ["❤️", text.wa_message_id, "order-981"],
      ["which code?", context, "login-7"],
      ["got it", code, "login-7"],
      ["unrelated", "3EB0SOMETHINGELSE", null],
    ]);
    expect(events[1].payload.type).toBe("reaction");
  });
});

describe("messages that are not a customer writing to us", () => {
  it("stores what the number wrote on its own phone as sent, announces it as message.sent from the phone, and clears unread", async () => {
    const { key, id, fleet } = await setup();
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "preciso de ajuda" }));
    const mine = await deliver(
      fleet.socket,
      inboundMessage(PHONE_JID, { from_me: true, sender_jid: "5511900000001@s.whatsapp.net", push_name: "Loja", body: "Claro, como posso ajudar?" }),
    );
    const [convo] = (await conversations(key)).data;
    expect(convo).toMatchObject({ unread_count: 0, last_message: { id: mine.message_id, direction: "outbound", status: "sent" }, contact: { name: "Maria" } });
    expect((await history(key, PHONE_JID)).data[0]).toMatchObject({ id: mine.message_id, direction: "outbound", status: "sent", source: "phone", to: PHONE_JID });
    const events = await eventsUntil(key, (e) => ofType("message.sent")(e).length >= 1);
    expect(ofType("message.sent")(events)).toEqual([
      expect.objectContaining({
        instance_id: id,
        conversation_id: convo.id,
        contact_id: convo.contact.id,
        payload: expect.objectContaining({ message_id: mine.message_id, source: "phone", status: "sent", to: PHONE_JID, body: "Claro, como posso ajudar?" }),
      }),
    ]);
  });

  it("does not store our own API sends a second time when WhatsApp echoes them from the phone", async () => {
    const { key, id, fleet } = await setup();
    const sent = await send(key, "otp", { to: PHONE_JID, code: "112233", instance_id: id });
    for (const waId of sent.wa_message_ids) {
      const echo = await deliver(fleet.socket, inboundMessage(PHONE_JID, { wa_message_id: waId, from_me: true, body: "112233" }));
      expect(echo).toEqual({ message_id: sent.id, duplicate: true });
    }
    const page = await history(key, PHONE_JID);
    expect(page.data.map((m: any) => m.id)).toEqual([sent.id]);
    expect(JSON.stringify(page)).not.toContain("112233");
  });

  it("stores a group message with its participant as sender, outside any conversation", async () => {
    const { key, projectId, id, fleet } = await setup();
    const group = "120363025246125888@g.us";
    const res = await deliver(fleet.socket, inboundMessage(group, { sender_jid: LID, sender_jid_alt: PHONE_JID, body: "bom dia, grupo" }));
    expect((await conversations(key)).data).toEqual([]);
    const row = await env.DB.prepare("SELECT chat_jid, sender_jid, conversation_id, direction FROM messages WHERE id = ?").bind(res.message_id).first();
    expect(row).toEqual({ chat_jid: group, sender_jid: PHONE_JID, conversation_id: null, direction: "inbound" });
    const [event] = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1));
    expect(event).toMatchObject({ sender: { jid: PHONE_JID, lid: LID, name: "Maria" }, conversation_id: null, payload: { from: group, body: "bom dia, grupo" } });
    // The group's number is not the participant's sticky number.
    expect(await findChatNumber(env.DB, projectId, PHONE_JID)).toBeNull();
    expect(event.instance_id).toBe(id);
  });

  it("makes a group participant a contact under the canonical rules: the LID's phone, one contact for both Brazilian forms, and the same contact when they write one-to-one", async () => {
    const { key, fleet } = await setup();
    const group = "120363025246125888@g.us";
    await deliver(fleet.socket, inboundMessage(group, { sender_jid: LID, sender_jid_alt: PHONE_8_JID, push_name: "Maria", body: "no grupo" }));
    const [inGroup] = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 1));
    expect(inGroup.contact_id).not.toBeNull();
    const contact = (await call(`/contacts/${inGroup.contact_id}`, { token: key })).json;
    expect(contact).toMatchObject({ lid: LID, name: "Maria", source: "inbound" });
    expect([PHONE_JID, PHONE_8_JID]).toContain(contact.jid);
    // The same person, one-to-one, under the other form of the number: the same contact, now with a conversation.
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "no privado" }));
    const events = ofType("message.received")(await eventsUntil(key, (e) => ofType("message.received")(e).length >= 2));
    expect(events[1]!.contact_id).toBe(inGroup.contact_id);
    expect((await call("/contacts", { token: key })).json.data).toHaveLength(1);
  });
});

describe("events about our own messages", () => {
  it("announces a send with its customer's ids and our reference, then each receipt that moves it forward, never an OTP code", async () => {
    const { key, id, fleet } = await setup();
    const { message_id: inboundId } = await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "oi" }));
    const otp = await send(key, "otp", { to: PHONE_JID, code: "908172", reference: "login-9", instance_id: id });
    const [convo] = (await conversations(key)).data;
    expect(convo).toMatchObject({ unread_count: 0, last_message: { id: otp.id, direction: "outbound", status: "sent" } });
    expect(otp).toMatchObject({ contact_id: convo.contact.id, conversation_id: convo.id });

    for (const status of ["delivered", "delivered", "read", "delivered"]) {
      fleet.socket.event("message.status", { wa_message_id: otp.wa_message_id, chat_jid: PHONE_JID, status });
    }
    await waitFor(async () => (await messageOf(key, otp.id)).status === "read", 3_000, "read");
    const events = await eventsUntil(key, (e) => ofType("message.status")(e).length >= 2);
    expect(ofType("message.sent")(events)).toEqual([
      expect.objectContaining({
        instance_id: id,
        contact_id: convo.contact.id,
        conversation_id: convo.id,
        reference: "login-9",
        payload: { message_id: otp.id, wa_message_id: otp.wa_message_id, type: "otp", to: PHONE_JID, status: "sent", sent_at: otp.sent_at },
      }),
    ]);
    // Only real steps: the repeated and late "delivered" said nothing new.
    expect(ofType("message.status")(events).map((e) => [e.payload.status, e.reference, e.conversation_id])).toEqual([
      ["delivered", "login-9", convo.id],
      ["read", "login-9", convo.id],
    ]);
    expect(JSON.stringify(events)).not.toContain("908172");
    expect(ofType("message.received")(events).map((e) => e.payload.message_id)).toEqual([inboundId]);
  });

  it("announces a send that failed before leaving, without a WhatsApp id", async () => {
    const { api_key: key } = await newProject();
    const instance = await newInstance(key);
    await connectedFleet(instance.id, { answer: () => fail("invalid_content") });
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: PHONE_JID, body: "x", reference: "r-1", instance_id: instance.id } });
    const [event] = ofType("message.status")(await eventsUntil(key, (e) => ofType("message.status")(e).length >= 1));
    expect(event).toMatchObject({
      instance_id: instance.id,
      contact_id: null,
      conversation_id: null,
      reference: "r-1",
      payload: { message_id: res.json.id, wa_message_id: null, status: "failed", reason: "invalid_content", chat_jid: PHONE_JID },
    });
  });
});

describe("instance events", () => {
  it("announces a new QR, coming online and each kind of drop with its reason, once per real change", async () => {
    const { api_key: key } = await newProject();
    const instance = await newInstance(key);
    const socket = await connectInstance(instance.id, "fleet-events");
    await socket.next(); // lease.granted
    const status = (data: object) => socket.event("status", data);
    const statuses = [
      { state: "qr_pending", qr: "2@QR-ONE", qr_png: "data:image/png;base64,AAA" },
      { state: "qr_pending", qr: "2@QR-ONE", qr_png: "data:image/png;base64,AAA" },
      { state: "qr_pending", qr: "2@QR-TWO", qr_png: "data:image/png;base64,BBB" },
      { state: "connected", jid: "5511900000009:4@s.whatsapp.net" },
      { state: "connected", jid: "5511900000009:4@s.whatsapp.net", push_name: "Loja" },
      { state: "disconnected", reason: "transient", close_code: 428 },
      { state: "disconnected", reason: "transient", close_code: 408 },
      { state: "connecting" },
      { state: "connected", jid: "5511900000009:4@s.whatsapp.net" },
      { state: "disconnected", reason: "banned", close_code: 403 },
      { state: "disconnected", reason: "logged_out", close_code: 401 },
    ];
    for (const s of statuses) status(s);
    const events = await eventsUntil(key, (e) => e.some((x) => x.type === "instance.logged_out"));
    const seen = events.filter((e) => e.type.startsWith("instance.")).map((e) => [e.type, e.payload]);
    const jid = "5511900000009:4@s.whatsapp.net";
    const online = { state: "connected", reason: null, close_code: null, jid, phone: "+5511900000009" };
    expect(seen).toEqual([
      ["instance.qr", { state: "qr_pending", reason: null, close_code: null, jid: null, phone: null, qr: "2@QR-ONE" }],
      ["instance.qr", { state: "qr_pending", reason: null, close_code: null, jid: null, phone: null, qr: "2@QR-TWO" }],
      ["instance.connected", online],
      ["instance.disconnected", { state: "disconnected", reason: "transient", close_code: 428, jid, phone: "+5511900000009" }],
      ["instance.connected", online],
      ["instance.banned", { state: "disconnected", reason: "banned", close_code: 403, jid, phone: "+5511900000009" }],
      ["instance.logged_out", { state: "disconnected", reason: "logged_out", close_code: 401, jid, phone: "+5511900000009" }],
    ]);
    expect(events.every((e) => e.instance_id === instance.id)).toBe(true);
    // The PNG stays out of events: the QR string is what a client renders.
    expect(JSON.stringify(events)).not.toContain("data:image/png");
  });
});

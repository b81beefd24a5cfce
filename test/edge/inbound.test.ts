/**
 * The edge's side of the receive path, driven as a fleet drives it: the
 * test holds the number's real fleet WebSocket and sends `message.received`
 * requests and `lid.mappings` events, with real D1, Durable Objects and the
 * event hub behind. (WhatsApp itself is in the e2e suite.)
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../edge/crypto.ts";
import {
  call,
  closeFleetSockets,
  connectedFleet,
  deliver,
  eventsUntil,
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

afterEach(() => closeFleetSockets());

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
    expect(await env.AFFINITY.get(env.AFFINITY.idFromName(`${projectId}:${PHONE_JID}`)).get()).toBe(id);
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

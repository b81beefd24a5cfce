/**
 * Replies (`quoted_message_id` on every send), the same rule for reactions,
 * received replies resolved to our message id, and contact cards made from
 * the sending number's own phone. The edge's side, driven through the real
 * fleet protocol (what WhatsApp shows is in the e2e suite).
 */
import { describe, expect, it } from "vitest";
import { call, connectedFleet, deliver, eventsUntil, inboundMessage, messageOf, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

const CUSTOMER = "5511988887777@s.whatsapp.net";
const OTHER = "5511977776666@s.whatsapp.net";

useFleetSockets();

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const a = await newInstance(key, "a");
  const b = await newInstance(key, "b");
  const fleetA = await connectedFleet(a.id, { fleetId: "fleet-a", jid: "5511900000001:1@s.whatsapp.net" });
  const fleetB = await connectedFleet(b.id, { fleetId: "fleet-b", jid: "5511900000002:1@s.whatsapp.net" });
  const send = (type: string, body: object) => call(`/messages/${type}`, { method: "POST", token: key, body: { to: CUSTOMER, ...body } });
  /** Sends and waits until it left; the message as GET /messages/{id} shows it. */
  const sent = async (type: string, body: object) => {
    const res = await send(type, body);
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, `${type} sent`);
    return messageOf(key, res.json.id);
  };
  const sendsOf = (id: string) => [...fleetA.sends, ...fleetB.sends].filter((s) => s.message_id === id);
  return { key, a: a.id, b: b.id, fleetA, fleetB, send, sent, sendsOf };
}

const expectNotFound = (res: { status: number; json: any }) => {
  expect(res.status, JSON.stringify(res.json)).toBe(422);
  expect(res.json.error).toMatchObject({ code: "quoted_message_not_found", details: { field: "quoted_message_id" } });
};

describe("replies", () => {
  it("quote our message (by our id or its WhatsApp id) through the number that has it, with its content for the preview", async () => {
    const { key, a, sent, sendsOf } = await setup();
    const original = await sent("text", { body: "Your order shipped", instance_id: a });
    // sticky: false would rotate to either number; the quote keeps the reply on the original's.
    for (const ref of [original.id, original.wa_message_id]) {
      const reply = await sent("text", { body: "Tracking: BR123", quoted_message_id: ref, sticky: false });
      expect(reply.instance_id).toBe(a);
      const [frame] = sendsOf(reply.id);
      expect(frame).toMatchObject({
        content: { type: "text", text: "Tracking: BR123" },
        quoted: { id: original.wa_message_id, from_me: true, participant: null, type: "text", body: "Your order shipped" },
      });
      expect(reply.quoted_id).toBe(original.wa_message_id);
      expect(reply.content.quoted_message_id).toBe(original.id);
    }
    // Without a quote, nothing is quoted.
    const plain = await sent("text", { body: "no quote", instance_id: a });
    expect(sendsOf(plain.id)[0]!.quoted).toBeNull();
    // The conversation's history carries both ids too.
    const history = (await call(`/conversations/${encodeURIComponent(CUSTOMER)}/messages`, { token: key })).json.data;
    expect(history.find((m: any) => m.body === "Tracking: BR123")).toMatchObject({ quoted_id: original.wa_message_id, quoted_message_id: original.id });
  });

  it("quote the customer's message, from a send of any type", async () => {
    const { a, fleetA, sent, sendsOf } = await setup();
    const theirs = inboundMessage(CUSTOMER, { body: "Is it in stock?" });
    const received = await deliver(fleetA.socket, theirs);
    const reply = await sent("location", { latitude: -23.5, longitude: -46.6, name: "Store", quoted_message_id: theirs.wa_message_id });
    expect(reply.instance_id).toBe(a);
    expect(sendsOf(reply.id)[0]!.quoted).toEqual({ id: theirs.wa_message_id, from_me: false, participant: null, type: "text", body: "Is it in stock?" });
    expect(reply.content.quoted_message_id).toBe(received.message_id);
  });

  it("answer 422 quoted_message_not_found for an unknown id, another chat's, another project's, another number's, or a message not sent yet", async () => {
    const { key, a, b, send, sent } = await setup();
    const other = await newProject("other");
    const foreignInstance = await newInstance(other.api_key, "x");
    const foreign = await connectedFleet(foreignInstance.id, { fleetId: "fleet-x" });
    await noPacing(other.api_key);
    const foreignMsg = await call("/messages/text", { method: "POST", token: other.api_key, body: { to: CUSTOMER, body: "theirs" } });
    await waitFor(async () => (await messageOf(other.api_key, foreignMsg.json.id)).status === "sent");
    const foreignWa = foreign.sends[0]!.wa_message_id;

    const elsewhere = await sent("text", { to: OTHER, body: "another chat", instance_id: a });
    const onA = await sent("text", { body: "on number a", instance_id: a });

    expectNotFound(await send("text", { body: "x", quoted_message_id: "3EB0NOSUCHMESSAGE" }));
    expectNotFound(await send("text", { body: "x", quoted_message_id: elsewhere.id }));
    expectNotFound(await send("text", { body: "x", quoted_message_id: elsewhere.wa_message_id }));
    expectNotFound(await send("text", { body: "x", quoted_message_id: foreignMsg.json.id }));
    expectNotFound(await send("text", { body: "x", quoted_message_id: foreignWa }));
    expectNotFound(await send("text", { body: "x", quoted_message_id: onA.id, instance_id: b }));
    // Queued on a number no fleet runs: WhatsApp does not have it, so nothing can quote it.
    const idle = await newInstance(key, "idle");
    const queued = await send("text", { body: "waiting", instance_id: idle.id });
    expect((await messageOf(key, queued.json.id)).status).toBe("queued");
    expectNotFound(await send("text", { body: "x", quoted_message_id: queued.json.id }));
  });
});

describe("reactions", () => {
  it("follow the same rule: our id or WhatsApp id of a message in the chat, else 422", async () => {
    const { a, fleetA, send, sent, sendsOf } = await setup();
    const theirs = inboundMessage(CUSTOMER, { body: "thanks!" });
    await deliver(fleetA.socket, theirs);
    const mine = await sent("text", { body: "you're welcome", instance_id: a });
    const onTheirs = await sent("reaction", { quoted_message_id: theirs.wa_message_id, emoji: "👍" });
    expect(sendsOf(onTheirs.id)[0]!.content.target).toEqual({ id: theirs.wa_message_id, from_me: false, participant: null });
    const onMine = await sent("reaction", { quoted_message_id: mine.id, emoji: "❤️", sticky: false });
    expect(onMine.instance_id).toBe(a);
    expect(sendsOf(onMine.id)[0]!.content.target).toEqual({ id: mine.wa_message_id, from_me: true, participant: null });
    expect(onMine).toMatchObject({ quoted_id: mine.wa_message_id, content: { quoted_message_id: mine.id } });
    // A reaction never carries a reply's quote.
    expect(sendsOf(onMine.id)[0]!.quoted).toBeNull();
    expectNotFound(await send("reaction", { quoted_message_id: "3EB0FROMNOWHERE", emoji: "👍" }));
    expectNotFound(await send("reaction", { to: OTHER, quoted_message_id: mine.wa_message_id, emoji: "👍" }));
  });
});

describe("received replies", () => {
  it("carry our message_id of the quoted message when we have it, in the event and the stored message", async () => {
    const { key, a, fleetA, sent } = await setup();
    const mine = await sent("text", { body: "Your order shipped", instance_id: a });
    const first = inboundMessage(CUSTOMER, { body: "what is in it?" });
    const firstStored = await deliver(fleetA.socket, first);
    const reply = await deliver(fleetA.socket, inboundMessage(CUSTOMER, { body: "Thanks!", quoted_id: mine.wa_message_id }));
    const toTheirs = await deliver(fleetA.socket, inboundMessage(CUSTOMER, { body: "I mean this", quoted_id: first.wa_message_id }));
    const unknown = await deliver(fleetA.socket, inboundMessage(CUSTOMER, { body: "hm", quoted_id: "3EB0UNKNOWN" }));
    const events = (await eventsUntil(key, (e) => e.filter((x) => x.type === "message.received").length >= 4)).filter(
      (e) => e.type === "message.received",
    );
    expect(events.map((e) => [e.payload.body, e.payload.quoted_id ?? null, e.payload.quoted_message_id ?? null])).toEqual([
      ["what is in it?", null, null],
      ["Thanks!", mine.wa_message_id, mine.id],
      ["I mean this", first.wa_message_id, firstStored.message_id],
      ["hm", "3EB0UNKNOWN", null],
    ]);
    expect(await messageOf(key, reply.message_id)).toMatchObject({ quoted_id: mine.wa_message_id, content: { quoted_message_id: mine.id } });
    expect((await messageOf(key, toTheirs.message_id)).content.quoted_message_id).toBe(firstStored.message_id);
    expect((await messageOf(key, unknown.message_id)).content.quoted_message_id).toBeUndefined();
  });
});

describe("contact cards (reference 002)", () => {
  it("without contact_phone or contact_vcard, carry the sending number's own phone", async () => {
    const { a, b, sent, sendsOf } = await setup();
    const card = await sent("contact", { contact_name: "Loja Centro", instance_id: b });
    const vcard: string = sendsOf(card.id)[0]!.content.vcard;
    expect(vcard).toContain("FN:Loja Centro");
    expect(vcard).toContain("waid=5511900000002:+5511900000002");
    expect(card.content.contact_vcard).toBe(vcard);
    const fromA = await sent("contact", { contact_name: "Loja Norte", instance_id: a });
    expect(sendsOf(fromA.id)[0]!.content.vcard).toContain("waid=5511900000001");
  });

  it("answer 409 instance_phone_unknown when the sending number never connected", async () => {
    const { api_key: key } = await newProject();
    const { id } = await newInstance(key, "new");
    const res = await call("/messages/contact", { method: "POST", token: key, body: { to: CUSTOMER, contact_name: "Loja", instance_id: id } });
    expect(res.status, JSON.stringify(res.json)).toBe(409);
    expect(res.json.error).toMatchObject({ code: "instance_phone_unknown", details: { field: "contact_phone" } });
  });
});

describe("mentions", () => {
  const GROUP = "120363000000000001@g.us";

  it("send each person named (any phone form or JID) as the JID WhatsApp knows", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const { id } = await newInstance(key, "m");
    // The Brazilian 8-digit account: WhatsApp knows it without the 9th digit.
    const fleet = await connectedFleet(id, { fleetId: "fleet-m", onWhatsApp: { "5511977776666": "551177776666@s.whatsapp.net" } });
    const res = await call("/messages/text", {
      method: "POST",
      token: key,
      body: { to: CUSTOMER, instance_id: id, body: "@551177776666 @987654321012345 see this", mentions: ["+55 11 97777-6666", "987654321012345@lid"] },
    });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(() => fleet.sends.length === 1);
    expect(fleet.sends[0]!.content).toEqual({
      type: "text",
      text: "@551177776666 @987654321012345 see this",
      mentions: ["551177776666@s.whatsapp.net", "987654321012345@lid"],
      mention_all: false,
    });
    expect((await messageOf(key, res.json.id)).content.mentions).toEqual(["551177776666@s.whatsapp.net", "987654321012345@lid"]);
  });

  it("ask WhatsApp about every mentioned phone not yet known in one query", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const { id } = await newInstance(key, "m1");
    const fleet = await connectedFleet(id, {
      fleetId: "fleet-m1",
      onWhatsApp: { "14155552671": "14155552671@s.whatsapp.net", "447700900123": "447700900123@s.whatsapp.net" },
    });
    const res = await call("/messages/text", {
      method: "POST",
      token: key,
      body: { to: CUSTOMER, instance_id: id, body: "@14155552671 @447700900123", mentions: ["+1 415 555 2671", "+44 7700 900123"] },
    });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(fleet.lookups.map((l) => [...l].sort())).toEqual([["14155552671", "447700900123"]]);
    await waitFor(() => fleet.sends.length === 1);
    expect(fleet.sends[0]!.content).toMatchObject({ mentions: ["14155552671@s.whatsapp.net", "447700900123@s.whatsapp.net"] });
  });

  it('send ["all"] in a group as everyone, which the fleet takes from the group', async () => {
    const { key, a, fleetA } = await setup();
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: GROUP, instance_id: a, body: "Team meeting at 3", mentions: ["all"] } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(() => fleetA.sends.some((s) => s.message_id === res.json.id));
    expect(fleetA.sends.find((s) => s.message_id === res.json.id)!.content).toMatchObject({ mentions: [], mention_all: true });
  });

  it("refuse with 4xx naming the mention: all outside a group, all among others, a group, nobody, someone not on WhatsApp", async () => {
    const { a, send } = await setup();
    const cases: [object, number, string][] = [
      [{ body: "x", mentions: ["all"] }, 400, "mentions"],
      [{ to: GROUP, instance_id: a, body: "x", mentions: ["all", "+5511977776666"] }, 400, "mentions"],
      [{ body: "x", mentions: [GROUP] }, 400, "mentions.0"],
      [{ body: "x", mentions: [] }, 400, "mentions"],
      [{ body: "x", mentions: [CUSTOMER, "not a phone"] }, 400, "mentions.1"],
      [{ body: "x", mentions: ["+5511966665555"] }, 422, "mentions.0"],
    ];
    for (const [body, status, field] of cases) {
      const res = await send("text", body);
      expect(res.status, JSON.stringify([body, res.json])).toBe(status);
      expect(res.json.error.details.field).toBe(field);
    }
  });

  it("on a received message are canonical phone JIDs, a LID resolved once its phone is known", async () => {
    const { key, fleetA } = await setup();
    const LID = "987654321012345@lid";
    const UNKNOWN_LID = "111111111111111@lid";
    fleetA.socket.event("lid.mappings", { mappings: [{ lid: LID, pn: "5511977776666:3@s.whatsapp.net" }] });
    await waitFor(async () => {
      const probe = await deliver(fleetA.socket, inboundMessage(CUSTOMER, { body: "probe", mentions: [LID] }));
      return (await messageOf(key, probe.message_id)).content.mentions?.[0] === "5511977776666@s.whatsapp.net";
    });
    const got = await deliver(
      fleetA.socket,
      inboundMessage(GROUP, { sender_jid: CUSTOMER, body: "@all look", mentions: ["5511955554444:12@s.whatsapp.net", LID, UNKNOWN_LID] }),
    );
    const expected = ["5511955554444@s.whatsapp.net", "5511977776666@s.whatsapp.net", UNKNOWN_LID];
    expect((await messageOf(key, got.message_id)).content.mentions).toEqual(expected);
    const events = await eventsUntil(key, (e) => e.some((x) => x.payload?.message_id === got.message_id));
    expect(events.find((e) => e.payload?.message_id === got.message_id).payload.mentions).toEqual(expected);
  });
});

/**
 * Read receipts and presence at the edge, driven as a fleet drives them:
 * the test holds each number's real fleet WebSocket, delivers received
 * messages, and records what the edge asks of the fleet (`messages.read`,
 * `presence.send`, `presence.subscribe`), with real D1, Durable Objects and
 * the event hub behind. (The same against WhatsApp's protocol is in
 * test/e2e/read-and-presence.test.ts.)
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import {
  call,
  connectedFleet,
  deliver,
  eventsUntil,
  fail,
  inboundMessage,
  newInstance,
  newProject,
  noPacing,
  useFleetSockets,
  waitFor,
} from "./helpers.ts";

const PHONE = "5511988887777";
const PHONE_JID = `${PHONE}@s.whatsapp.net`;
const OTHER = "5511977776666";
const OTHER_JID = `${OTHER}@s.whatsapp.net`;
const LID = "123456789012345@lid";
const GROUP = "120363041234567890@g.us";

useFleetSockets();

type Recorded = { reads: any[]; presences: any[]; subscriptions: any[] };

/** A connected number whose fleet records the signals the edge asks for; `answer` may fail them. */
async function numberOn(instanceId: string, answer: { read?: () => unknown; presence?: () => unknown } = {}, fleetId?: string) {
  const seen: Recorded = { reads: [], presences: [], subscriptions: [] };
  const fleet = await connectedFleet(instanceId, {
    fleetId,
    onWhatsApp: { [PHONE]: PHONE_JID, [OTHER]: OTHER_JID },
    methods: {
      "messages.read": (params) => {
        const failure = answer.read?.();
        if (failure) return failure;
        seen.reads.push(params);
        return { read: params.keys.length };
      },
      "presence.send": (params) => {
        const failure = answer.presence?.();
        if (failure) return failure;
        seen.presences.push(params);
        return {};
      },
      "presence.subscribe": (params) => {
        seen.subscriptions.push(params);
        return { subscribed: params.jids.length };
      },
    },
  });
  return { ...fleet, ...seen };
}

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  const number = await numberOn(instance.id);
  return { key, projectId, id: instance.id, number };
}

const post = (key: string, path: string, body?: unknown) => call(path, { method: "POST", token: key, body });
const receiptKeys = (reads: any[]) => reads.flatMap((r) => r.keys);
const pending = (instanceId: string) => instanceOf(env, instanceId).pendingReadReceipts();
const settle = () => new Promise((r) => setTimeout(r, 150));

describe("read receipts", () => {
  it("reading a conversation sends one receipt per unread received message through its number, once: a second read sends none", async () => {
    const { key, number } = await setup();
    const one = await deliver(number.socket, inboundMessage(PHONE_JID, { body: "um" }));
    const two = await deliver(number.socket, inboundMessage(PHONE_JID, { body: "dois" }));

    const read = await post(key, `/conversations/${PHONE_JID}/read`);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ chat_jid: PHONE_JID, unread_count: 0, receipts_queued: 2 });
    await waitFor(() => receiptKeys(number.reads).length === 2, 3_000, "two receipts at the fleet");
    const ids = await Promise.all([one, two].map(async (m) => (await call(`/messages/${m.message_id}`, { token: key })).json));
    expect(new Set(receiptKeys(number.reads))).toEqual(
      new Set(ids.map((m) => ({ chat_jid: PHONE_JID, wa_message_id: m.wa_message_id, participant: null }))),
    );
    for (const m of ids) expect(m.read_at).toEqual(expect.any(String));

    const again = await post(key, `/conversations/${PHONE_JID}/read`);
    expect(again.json.receipts_queued).toBe(0);
    await settle();
    expect(receiptKeys(number.reads)).toHaveLength(2);
  });

  it("receipts accepted while the number is offline wait in its object, survive a failed attempt, and reach the fleet once it is back", async () => {
    const { key, id, number } = await setup();
    const message = await deliver(number.socket, inboundMessage(PHONE_JID, { body: "alguém aí?" }));
    number.socket.ws.close(1000, "fleet gone");
    await number.socket.closed;
    await waitFor(async () => (await instanceOf(env, id).status())?.state !== "connected", 3_000, "the number offline");

    const read = await post(key, `/messages/${message.message_id}/read`);
    expect(read.status).toBe(202);
    expect(read.json).toEqual({ id: message.message_id, receipts_queued: 1 });
    expect(await pending(id)).toBe(1);

    // Back, but the socket fails the first attempt: the receipt stays.
    let refuse = true;
    const back = await numberOn(id, { read: () => (refuse ? fail("not_connected") : undefined) });
    await settle();
    expect(await pending(id)).toBe(1);
    refuse = false;
    await runDurableObjectAlarm(instanceOf(env, id));
    await waitFor(() => back.reads.length === 1, 3_000, "the receipt at the fleet");
    expect(receiptKeys(back.reads)).toEqual([{ chat_jid: PHONE_JID, wa_message_id: expect.any(String), participant: null }]);
    await waitFor(async () => (await pending(id)) === 0, 3_000, "nothing pending");
  });

  it("a customer who wrote to two numbers gets each receipt from the number that received the message", async () => {
    const { key, id, number } = await setup();
    const second = await newInstance(key, "n2");
    const other = await numberOn(second.id);
    await deliver(number.socket, inboundMessage(PHONE_JID, { body: "para o primeiro" }));
    await deliver(other.socket, inboundMessage(PHONE_JID, { body: "para o segundo" }));

    expect((await post(key, `/conversations/${PHONE_JID}/read`)).json.receipts_queued).toBe(2);
    await waitFor(() => number.reads.length === 1 && other.reads.length === 1, 3_000, "one receipt at each number");
    expect(receiptKeys(number.reads)).toHaveLength(1);
    expect(receiptKeys(other.reads)).toHaveLength(1);
    expect(await pending(id)).toBe(0);
  });

  it("POST /messages/{id}/read: a group message's receipt names who wrote it; ours answer 409 not_inbound; another project's id is 404", async () => {
    const { key, number } = await setup();
    const inGroup = await deliver(number.socket, inboundMessage(GROUP, { sender_jid: OTHER_JID, body: "bom dia, grupo" }));
    const read = await post(key, `/messages/${inGroup.message_id}/read`);
    expect(read.status).toBe(202);
    expect(read.json.receipts_queued).toBe(1);
    await waitFor(() => number.reads.length === 1, 3_000, "the receipt");
    expect(receiptKeys(number.reads)).toEqual([{ chat_jid: GROUP, wa_message_id: expect.any(String), participant: OTHER_JID }]);
    expect((await post(key, `/messages/${inGroup.message_id}/read`)).json.receipts_queued).toBe(0);

    const sent = await post(key, "/messages/text", { to: `+${PHONE}`, body: "nossa" });
    expect(sent.status).toBe(202);
    const ours = await post(key, `/messages/${sent.json.id}/read`);
    expect(ours.status).toBe(409);
    expect(ours.json.error.code).toBe("not_inbound");

    const stranger = await newProject("other");
    const theirs = await post(stranger.api_key, `/messages/${inGroup.message_id}/read`);
    expect(theirs.status).toBe(404);
    expect((await post(key, "/messages/no-such-message/read")).status).toBe(404);
    // Nor another project's conversation.
    expect((await post(stranger.api_key, `/conversations/${PHONE_JID}/read`)).status).toBe(404);
  });

  it("auto_read is off by default; on, each customer message is receipted as it arrives (as WhatsApp addressed it), and not the number's own", async () => {
    const { key, number } = await setup();
    expect((await call("/settings", { token: key })).json.auto_read).toBe(false);
    await deliver(number.socket, inboundMessage(PHONE_JID, { body: "sem recibo" }));
    await settle();
    expect(number.reads).toEqual([]);

    const patched = await call("/settings", { method: "PATCH", token: key, body: { auto_read: true } });
    expect(patched.json.auto_read).toBe(true);
    const auto = inboundMessage(LID, { body: "com recibo", sender_jid: LID });
    await deliver(number.socket, auto);
    await deliver(number.socket, inboundMessage(PHONE_JID, { body: "do meu telefone", from_me: true }));
    await waitFor(() => number.reads.length === 1, 3_000, "the automatic receipt");
    await settle();
    expect(receiptKeys(number.reads)).toEqual([{ chat_jid: LID, wa_message_id: auto.wa_message_id, participant: null }]);

    // The first (before auto_read) is still unread; the automatic one is not receipted twice.
    expect((await post(key, `/conversations/${PHONE_JID}/read`)).json.receipts_queued).toBe(1);
    expect((await post(key, `/conversations/${LID}/read`)).json.receipts_queued).toBe(0);
  });
});

describe("presence", () => {
  it("shows typing through the customer's number, or the one named; bad input is a 400 naming the field", async () => {
    const { key, id, number } = await setup();
    await deliver(number.socket, inboundMessage(PHONE_JID));
    const typing = await post(key, `/conversations/+${PHONE}/presence`, { state: "composing" });
    expect(typing.status).toBe(200);
    expect(typing.json).toEqual({ jid: PHONE_JID, instance_id: id, state: "composing" });
    expect(number.presences).toEqual([{ jid: PHONE_JID, state: "composing" }]);

    // A chat with no conversation yet, through a named number.
    const named = await post(key, `/conversations/${OTHER_JID}/presence`, { state: "recording", instance_id: id });
    expect(named.status).toBe(200);
    expect(number.presences.at(-1)).toEqual({ jid: OTHER_JID, state: "recording" });
    // Named as a phone, in any form, as a send's `to` would be.
    const byPhone = await post(key, `/conversations/${encodeURIComponent("+55 (11) 97777-6666")}/presence`, { state: "paused", instance_id: id });
    expect(byPhone.status).toBe(200);
    expect(number.presences.at(-1)).toEqual({ jid: OTHER_JID, state: "paused" });

    for (const [body, field] of [
      [{}, "state"],
      [{ state: "typing" }, "state"],
      [{ state: "paused", instance_id: "" }, "instance_id"],
    ] as const) {
      const res = await post(key, `/conversations/${PHONE_JID}/presence`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details.field).toBe(field);
    }
    const noChat = await post(key, `/conversations/${OTHER_JID}/presence`, { state: "paused" });
    expect(noChat.status).toBe(404);
    const stranger = await newProject("other");
    expect((await post(stranger.api_key, `/conversations/${PHONE_JID}/presence`, { state: "paused" })).status).toBe(404);
    const notTheirs = await post(stranger.api_key, `/conversations/${OTHER_JID}/presence`, { state: "paused", instance_id: id });
    expect(notTheirs.status).toBe(404);
    expect(notTheirs.json.error.details.field).toBe("instance_id");
  });

  it("presence is of the moment: a number whose socket is down answers 409 not_connected and nothing is kept", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const instance = await newInstance(key);
    const number = await numberOn(instance.id, { presence: () => fail("not_connected", "the number is connecting") });
    await deliver(number.socket, inboundMessage(PHONE_JID));
    const res = await post(key, `/conversations/${PHONE_JID}/presence`, { state: "composing" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("not_connected");
  });

  it("a subscription is kept by the number, named again when it reconnects, and its presence reaches the project as presence.update (a LID as its phone)", async () => {
    const { key, id, number } = await setup();
    const name = `presence-${crypto.randomUUID().slice(0, 8)}`;
    const hook = await post(key, "/webhooks", { url: `http://hooks.test/${name}`, events: ["presence.update"] });
    expect(hook.status).toBe(201);
    await deliver(number.socket, inboundMessage(PHONE_JID));
    const sub = await post(key, `/conversations/${PHONE_JID}/presence/subscribe`);
    expect(sub.status).toBe(200);
    expect(sub.json).toEqual({ jid: PHONE_JID, instance_id: id, subscribed: true });
    expect(number.subscriptions).toEqual([{ jids: [PHONE_JID], online: true }]);

    // WhatsApp names the customer by LID; the edge knows the phone behind it.
    number.socket.event("lid.mappings", { mappings: [{ lid: LID, pn: PHONE_JID }] });
    number.socket.event("presence.update", { jid: LID, chat_jid: LID, state: "composing", last_seen: null });
    number.socket.event("presence.update", { jid: PHONE_JID, chat_jid: PHONE_JID, state: "unavailable", last_seen: 1_790_000_000 });
    // Not subscribed to: not published.
    number.socket.event("presence.update", { jid: OTHER_JID, chat_jid: OTHER_JID, state: "composing", last_seen: null });
    const presence = (events: any[]) => events.filter((e) => e.type === "presence.update");
    const events = presence(await eventsUntil(key, (e) => presence(e).length >= 2));
    await settle();
    expect(presence(await eventsUntil(key, () => true))).toHaveLength(2);
    expect(events.map((e) => ({ instance_id: e.instance_id, payload: e.payload }))).toEqual([
      { instance_id: id, payload: { jid: PHONE_JID, state: "composing", last_seen: null } },
      { instance_id: id, payload: { jid: PHONE_JID, state: "unavailable", last_seen: new Date(1_790_000_000_000).toISOString() } },
    ]);
    const delivered = async () => (await (await fetch(`http://hooks.test/__log/${name}`)).json()) as { body: string }[];
    await waitFor(async () => (await delivered()).length >= 2, 8_000, "two webhook deliveries");
    const hits = await delivered();
    expect(hits.map((h) => JSON.parse(h.body).payload)).toEqual(events.map((e) => e.payload));

    // The fleet comes back after a crash: WhatsApp forgot, the number names its chats again.
    number.socket.ws.close(1000, "crash");
    await number.socket.closed;
    const back = await numberOn(id);
    await waitFor(() => back.subscriptions.length === 1, 3_000, "the subscription made again");
    expect(back.subscriptions).toEqual([{ jids: [PHONE_JID], online: true }]);

    // Deleted: the number stops watching, and goes offline having nobody left to watch.
    const gone = await call(`/conversations/${PHONE_JID}/presence/subscribe`, { method: "DELETE", token: key });
    expect(gone.json).toEqual({ jid: PHONE_JID, instance_id: id, subscribed: false });
    expect(back.subscriptions.at(-1)).toEqual({ jids: [], online: false });
    back.socket.event("presence.update", { jid: PHONE_JID, chat_jid: PHONE_JID, state: "composing", last_seen: null });
    await settle();
    expect(presence(await eventsUntil(key, () => true))).toHaveLength(2);
  });

  it("subscribing: another project's conversation or number is 404; a logged-out number forgets its subscriptions", async () => {
    const { key, id, number } = await setup();
    await deliver(number.socket, inboundMessage(PHONE_JID));
    const stranger = await newProject("other");
    expect((await post(stranger.api_key, `/conversations/${PHONE_JID}/presence/subscribe`)).status).toBe(404);
    const notTheirs = await post(stranger.api_key, `/conversations/${OTHER_JID}/presence/subscribe`, { instance_id: id });
    expect(notTheirs.status).toBe(404);
    expect(notTheirs.json.error.details.field).toBe("instance_id");

    expect((await post(key, `/conversations/${PHONE_JID}/presence/subscribe`, { instance_id: id })).status).toBe(200);
    expect(await instanceOf(env, id).presenceSubscriptions()).toEqual([PHONE_JID]);
    number.socket.event("status", { state: "disconnected", reason: "logged_out", close_code: 401 });
    await waitFor(async () => (await instanceOf(env, id).presenceSubscriptions()).length === 0, 3_000, "subscriptions forgotten");
  });
});

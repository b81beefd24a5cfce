/**
 * Read receipts, typing and presence subscriptions on a number's socket
 * (fleet/chat-signals.ts). Around the socket: the loopback peer never sends
 * presence, and takes no group messages to read; what it can observe (a
 * receipt, a chatstate, a subscription reaching WhatsApp) is covered end to
 * end in test/e2e/read-and-presence.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { ProtocolError } from "../../shared/protocol.ts";
import { openManager } from "./fake-manager.ts";
import { until } from "./memory-edge.ts";

const cipher = new SessionCipher("chat signals unit session key");
const instanceId = "inst_chat_signals_unit";
const CUSTOMER = "5511955557777@s.whatsapp.net";
const OTHER = "5511955558888@s.whatsapp.net";
const LID = "123456789012345@lid";
const GROUP = "120363041234567890@g.us";

const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

async function connected() {
  const open = await openManager({ instanceId, cipher, me: { id: "5511999990002:3@s.whatsapp.net", name: "Loja" } });
  managers.push(open.manager);
  return { ...open, call: open.edge.edge.call.bind(open.edge.edge) };
}

describe("chat signals (unit, around the socket: the peer sends no presence)", () => {
  it("presence.subscribe puts the number online, then subscribes each chat; what Baileys then reports is one presence.update per person", async () => {
    const { sock, call, edge } = await connected();
    expect(await call("presence.subscribe", { jids: [CUSTOMER, LID], online: true })).toEqual({ subscribed: 2 });
    expect(sock.presences.map((p) => p.type)).toEqual(["available"]);
    expect(sock.presenceSubscriptions).toEqual([CUSTOMER, LID]);

    sock.ev.emit("presence.update", { id: CUSTOMER, presences: { [CUSTOMER]: { lastKnownPresence: "composing" } } });
    sock.ev.emit("presence.update", { id: LID, presences: { [LID]: { lastKnownPresence: "unavailable", lastSeen: 1_790_000_000 } } });
    // Participants typing in a group were not asked for: left out.
    sock.ev.emit("presence.update", { id: GROUP, presences: { [OTHER]: { lastKnownPresence: "composing" } } });
    await until(() => edge.presences.length >= 2, 2_000, "two presence events");
    await new Promise((r) => setTimeout(r, 50));
    expect(edge.presences).toEqual([
      { jid: CUSTOMER, chat_jid: CUSTOMER, state: "composing", last_seen: null },
      // As WhatsApp named them: the edge resolves a LID to its phone.
      { jid: LID, chat_jid: LID, state: "unavailable", last_seen: 1_790_000_000 },
    ]);
  });

  it("the last subscription gone (online: false) makes the number unavailable again, subscribing nobody", async () => {
    const { sock, call } = await connected();
    await call("presence.subscribe", { jids: [], online: false });
    expect(sock.presences.map((p) => p.type)).toEqual(["unavailable"]);
    expect(sock.presenceSubscriptions).toEqual([]);
  });

  it("after a reconnect, the new socket's presence reaches the edge as well; the old one's no longer does", async () => {
    const { sockets, call, edge, manager } = await connected();
    await call("presence.subscribe", { jids: [CUSTOMER], online: true });
    sockets[0]!.close(428);
    await until(() => sockets.length === 2, 5_000, "a second socket");
    sockets[1]!.open();
    await until(() => manager.status.state === "connected", 3_000, "connected again");
    // WhatsApp forgot the subscription with the old socket; the edge names it again on the connect (objects/presence.ts).
    await call("presence.subscribe", { jids: [CUSTOMER], online: true });
    expect(sockets[1]!.presenceSubscriptions).toEqual([CUSTOMER]);
    sockets[0]!.ev.emit("presence.update", { id: CUSTOMER, presences: { [CUSTOMER]: { lastKnownPresence: "composing" } } });
    sockets[1]!.ev.emit("presence.update", { id: CUSTOMER, presences: { [CUSTOMER]: { lastKnownPresence: "recording" } } });
    await until(() => edge.presences.length >= 1, 2_000, "the new socket's presence");
    await new Promise((r) => setTimeout(r, 50));
    expect(edge.presences).toEqual([{ jid: CUSTOMER, chat_jid: CUSTOMER, state: "recording", last_seen: null }]);
  });

  it("messages.read hands Baileys the receipts' keys as WhatsApp keys them: not ours, and in a group naming who wrote", async () => {
    const { sock, call } = await connected();
    const answer = await call("messages.read", {
      keys: [
        { chat_jid: CUSTOMER, wa_message_id: "3EB0AAA", participant: null },
        { chat_jid: GROUP, wa_message_id: "3EB0BBB", participant: OTHER },
      ],
    });
    expect(answer).toEqual({ read: 2 });
    expect(sock.reads).toEqual([
      [
        { remoteJid: CUSTOMER, id: "3EB0AAA", fromMe: false },
        { remoteJid: GROUP, id: "3EB0BBB", fromMe: false, participant: OTHER },
      ],
    ]);
  });

  it("presence.send shows the state in that chat; with the number offline every signal answers not_connected", async () => {
    const { sock, sockets, call, manager } = await connected();
    await call("presence.send", { jid: CUSTOMER, state: "recording" });
    expect(sock.presences.map(({ type, jid }) => ({ type, jid }))).toEqual([{ type: "recording", jid: CUSTOMER }]);

    sockets[0]!.close(428);
    await until(() => manager.status.state !== "connected", 2_000, "disconnected");
    for (const [method, params] of [
      ["presence.send", { jid: CUSTOMER, state: "composing" }],
      ["presence.subscribe", { jids: [CUSTOMER], online: true }],
      ["messages.read", { keys: [{ chat_jid: CUSTOMER, wa_message_id: "3EB0CCC", participant: null }] }],
    ] as const) {
      const failure = await call(method, params as never).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure, method).toBeInstanceOf(ProtocolError);
      expect((failure as ProtocolError).code, method).toBe("not_connected");
    }
  });
});

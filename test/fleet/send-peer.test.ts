/**
 * `message.send` and `contacts.resolve` against a real WhatsApp-protocol peer
 * (crabline, patched: see test/peer/peer.ts): a real Baileys socket, real
 * Signal encryption, and the peer decrypting what arrives. The edge is the
 * in-memory one; the calls are the frames the instance's Durable Object sends.
 */
import { BufferJSON, proto } from "@whiskeysockets/baileys";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import { openValue } from "../../fleet/session-store.ts";
import { guardConsole } from "../../fleet/console-guard.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import type { Params } from "../../shared/protocol.ts";
import { summarize } from "../peer/decode.ts";
import { PhoneDirectory, type TestPeer, startPeer } from "../peer/peer.ts";
import { type MemoryEdge, memoryEdge, pairedSession, until } from "./memory-edge.ts";
import { captureLogs } from "./captured-logs.ts";
import { peerManager } from "./peer-manager.ts";
import { testInbound } from "./inbound-harness.ts";

const PHONE = "5511999990011";
const instanceId = "inst_send_peer";
const cipher = new SessionCipher("send peer session key");
// Everything the fleet and Baileys log, at the most verbose level an operator can pick.
const { logger, logs } = captureLogs("trace");
const CONTACT = "5511988887777@s.whatsapp.net";

let peer: TestPeer;
let edge: MemoryEdge;
let manager: ConnectionManager;
let restoreConsole: () => void;
let counter = 0;

/** A fresh id in WhatsApp's style, as the edge picks one before the first attempt. */
const newId = () => `3EB0${Date.now().toString(16).toUpperCase()}${(counter++).toString(16).padStart(4, "0").toUpperCase()}`;

const send = (params: Omit<Params<"message.send">, "message_id" | "wa_message_id"> & { wa_message_id?: string }) =>
  edge.edge.call("message.send", { message_id: `msg_${counter}`, wa_message_id: params.wa_message_id ?? newId(), ...params });

beforeAll(async () => {
  restoreConsole = guardConsole(logger);
  const directory = new PhoneDirectory()
    .register("5511988887777") // an account under the 13-digit form
    .register("551187776666"); // an old account, registered before the 9th digit
  peer = await startPeer({ phone: PHONE, directory });

  edge = memoryEdge(pairedSession(cipher, instanceId, { id: `${PHONE}:1@s.whatsapp.net` }));
  manager = peerManager({ instanceId, cipher, logger, edge, waUrl: peer.url, spool: testInbound({ link: edge.link, cipher, logger }).spool });
  manager.leaseGranted({ instance_id: instanceId, ttl_ms: 15_000, config: { name: "send", proxy_url: null } });
  await until(() => manager.status.state === "connected", 10_000, "connected");
});

afterAll(async () => {
  await manager?.stop();
  await peer?.close();
  restoreConsole?.();
});

describe("message.send against a real WhatsApp peer", () => {
  it("text, location, contact, reaction and poll arrive decoded, under the ids we chose", async () => {
    const vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Suporte Pombo\nTEL;type=CELL;waid=5511977776666:+55 11 97777-6666\nEND:VCARD";
    const cases: { content: Params<"message.send">["content"]; expected: Record<string, unknown> }[] = [
      { content: { type: "text", text: "Olá! Seu pedido saiu para entrega 🚚" }, expected: { type: "text", text: "Olá! Seu pedido saiu para entrega 🚚" } },
      {
        content: { type: "location", latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" },
        expected: { type: "location", latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" },
      },
      { content: { type: "contact", display_name: "Suporte Pombo", vcard }, expected: { type: "contact", display_name: "Suporte Pombo", vcard } },
      {
        content: { type: "poll", name: "Qual horário?", options: ["Manhã", "Tarde", "Noite"], selectable_count: 1 },
        expected: { type: "poll", name: "Qual horário?", options: ["Manhã", "Tarde", "Noite"], selectable_count: 1 },
      },
    ];
    const results = [];
    for (const c of cases) {
      const id = newId();
      const before = Math.floor(Date.now() / 1000);
      const result = await send({ wa_message_id: id, chat_jid: CONTACT, content: c.content });
      expect(result.wa_message_id).toBe(id);
      expect(result.timestamp).toBeGreaterThanOrEqual(before);
      expect(result.timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      const arrived = await peer.waitForAccepted((m) => m.id === id);
      expect(arrived.to).toBe(CONTACT);
      expect(summarize(arrived.message)).toMatchObject(c.expected);
      results.push({ id, result, arrived });
    }

    // Texts and the rest carry no poll data; the poll does, and it is what the recipient got.
    expect(results.slice(0, 3).every(({ result }) => result.message_secret === null && result.poll_message === null)).toBe(true);
    const poll = results[3]!;
    const arrivedPoll = summarize(poll.arrived.message);
    expect(arrivedPoll.type === "poll" && arrivedPoll.message_secret).toBe(poll.result.message_secret);
    expect(Buffer.from(poll.result.message_secret!, "base64")).toEqual(cipher.messageSecret(instanceId, poll.id));
    const pollMessage = proto.Message.fromObject(JSON.parse(poll.result.poll_message!, BufferJSON.reviver));
    expect(pollMessage.pollCreationMessageV3?.options?.map((o) => o.optionName)).toEqual(["Manhã", "Tarde", "Noite"]);
    expect(Buffer.from(pollMessage.messageContextInfo!.messageSecret!)).toEqual(Buffer.from(poll.result.message_secret!, "base64"));

    // A reaction to the text we sent shows on that message.
    const reactionId = newId();
    await send({ wa_message_id: reactionId, chat_jid: CONTACT, content: { type: "reaction", emoji: "❤️", target: { id: results[0]!.id, from_me: true } } });
    const reaction = await peer.waitForAccepted((m) => m.id === reactionId);
    expect(summarize(reaction.message)).toEqual({
      type: "reaction",
      emoji: "❤️",
      target: { id: results[0]!.id, from_me: true, remote_jid: CONTACT, participant: null },
    });
  });

  it("a send repeated with the same wa_message_id is the same message: the recipient holds it once, and the chat goes on; the code is never logged", async () => {
    const id = newId();
    const content = { type: "text", text: "Seu código de acesso é 482913" } as const;
    const first = await send({ wa_message_id: id, chat_jid: CONTACT, content });
    // As after a fleet crash mid-send: the edge sends it again, same id.
    const again = await send({ wa_message_id: id, chat_jid: CONTACT, content });
    expect(first.wa_message_id).toBe(id);
    expect(again.wa_message_id).toBe(id);

    const next = newId();
    await send({ wa_message_id: next, chat_jid: CONTACT, content: { type: "text", text: "Válido por 5 minutos." } });
    await peer.waitForAccepted((m) => m.id === next);
    // Both copies went over the wire, freshly encrypted...
    const copies = readFileSync(peer.recorderPath, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { accepted?: boolean; body?: { tag?: string; attrs?: { id?: string } } })
      .filter((r) => !r.accepted && r.body?.tag === "message" && r.body.attrs?.id === id);
    expect(copies).toHaveLength(2);
    // ...but WhatsApp keys a message by chat + id: a recipient that has it ignores a second copy.
    // The peer does the same, and still decrypts what follows the duplicate.
    expect(peer.accepted().filter((m) => m.id === id)).toHaveLength(1);
    expect(summarize(peer.accepted().find((m) => m.id === next)!.message)).toEqual({ type: "text", text: "Válido por 5 minutos." });

    // OTP codes travel as text: the logs name the message, never what it says, even at trace level.
    expect(logs()).toContain(id);
    expect(logs()).toContain('"msg":"message sent"');
    expect(logs()).not.toContain("482913");
    expect(logs()).not.toContain("Válido por 5 minutos");
  });

  it("carries a text's session writes (the chat's ratchet step) in its answer, with no session.set of its own", async () => {
    const first = newId();
    await send({ chat_jid: CONTACT, wa_message_id: first, content: { type: "text", text: "Primeira." } });
    await peer.waitForAccepted((m) => m.id === first);
    const setsBefore = edge.requests.filter((r) => r.method === "session.set").length;
    const id = newId();
    const answer = await send({ chat_jid: CONTACT, wa_message_id: id, content: { type: "text", text: "Segunda." } });
    await peer.waitForAccepted((m) => m.id === id);
    expect(edge.requests.filter((r) => r.method === "session.set").length - setsBefore).toBe(0);
    // The contact's session moved on with this message: its new state is in the answer, sealed as a session.set carries it.
    const sessionKeys = Object.keys(answer.session ?? {}).filter((k) => k.startsWith("session:5511988887777"));
    expect(sessionKeys.length).toBeGreaterThan(0);
    for (const key of sessionKeys) expect(openValue(cipher, instanceId, key, answer.session![key]!)).toBeTruthy();
  });

  it("shows typing for typing_ms before a text, then pauses, then sends", async () => {
    const id = newId();
    const started = Date.now();
    await send({ wa_message_id: id, chat_jid: CONTACT, content: { type: "text", text: "Digitando como gente." }, typing_ms: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await peer.waitForAccepted((m) => m.id === id);

    // The peer saw the chat states go by, in order, before the message.
    const records = readFileSync(peer.recorderPath, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { body?: { tag?: string; attrs?: { to?: string; id?: string }; content?: { tag: string }[] } });
    const messageAt = records.findIndex((r) => r.body?.tag === "message" && r.body.attrs?.id === id);
    const states = records
      .slice(0, messageAt)
      .filter((r) => r.body?.tag === "chatstate" && r.body.attrs?.to === CONTACT)
      .map((r) => r.body!.content![0]!.tag);
    expect(states.slice(-2)).toEqual(["composing", "paused"]);
  });
});

describe("contacts.resolve against a real WhatsApp peer", () => {
  it("finds registered numbers in either Brazilian form, keeps the JID WhatsApp answers, and says no for an unknown one, in one query", async () => {
    const lookupsBefore = peer.directory.lookups.length;
    const { results } = await edge.edge.call("contacts.resolve", {
      phones: ["5511988887777", "551188887777", "5511987776666", "5511911112222"],
    });
    expect(results).toEqual([
      // Registered as asked.
      { phone: "5511988887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      // Asked without the 9th digit: the account's JID has it.
      { phone: "551188887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      // Asked with the 9th digit: an old account, whose JID has none.
      { phone: "5511987776666", exists: true, jid: "551187776666@s.whatsapp.net" },
      { phone: "5511911112222", exists: false, jid: null },
    ]);
    // All four numbers went to WhatsApp in a single usync query, and the socket lives on.
    expect(peer.directory.lookups.slice(lookupsBefore)).toEqual(["+5511988887777", "+551188887777", "+5511987776666", "+5511911112222"]);
    expect(manager.status.state).toBe("connected");

    // The JID it found is one a message can go to.
    const id = newId();
    await send({ wa_message_id: id, chat_jid: results[2]!.jid!, content: { type: "text", text: "Oi!" } });
    expect((await peer.waitForAccepted((m) => m.id === id)).to).toBe("551187776666@s.whatsapp.net");
  });
});

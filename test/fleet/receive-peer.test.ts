/**
 * The receive path against a real WhatsApp-protocol peer (crabline, patched:
 * see test/peer/peer.ts): the peer puts messages on a real Baileys socket as
 * WhatsApp would, the connection manager writes them to the inbound spool
 * before the receipt leaves (Baileys patched: `beforeMessageAck`), the
 * drainer turns them into `message.received` calls on the in-memory edge,
 * and received files go to a local HTTP server standing in for the bucket's
 * presigned PUT. What the socket tells the peer (receipts, nacks) is what
 * WhatsApp would know.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import { guardConsole } from "../../fleet/console-guard.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import type { LeaseGranted } from "../../shared/protocol.ts";
import { type TestPeer, startPeer } from "../peer/peer.ts";
import { type TestInbound, testInbound } from "./inbound-harness.ts";
import { type Arrival, type MemoryEdge, memoryEdge, pairedSession, until } from "./memory-edge.ts";
import { captureLogs } from "./captured-logs.ts";
import { peerManager } from "./peer-manager.ts";

const PHONE = "5511999990021";
const instanceId = "inst_receive_peer";
const cipher = new SessionCipher("receive peer session key");
const grant: LeaseGranted = { instance_id: instanceId, ttl_ms: 15_000, config: { name: "receive", proxy_url: null } };
const CUSTOMER = "5511988881234@s.whatsapp.net";
// Everything the fleet and Baileys log, at the most verbose level an operator can pick.
const { logger, logs } = captureLogs("trace");

type Put = { url: string; headers: Record<string, string | string[] | undefined>; body: Buffer };
let bucket: ReturnType<typeof createServer>;
let bucketUrl = "";
const puts: Put[] = [];

let peer: TestPeer;
let edge: MemoryEdge;
let inbound: TestInbound;
let manager: ConnectionManager;
let restoreConsole: () => void;
/** Free disk space as the spool sees it; the tests fill the disk by lowering it. */
let freeBytes = 10 * 1024 ** 3;

beforeAll(async () => {
  restoreConsole = guardConsole(logger);
  // The bucket's presigned PUT endpoint: keeps what it is given.
  bucket = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      puts.push({ url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => bucket.listen(0, "127.0.0.1", resolve));
  bucketUrl = `http://127.0.0.1:${(bucket.address() as AddressInfo).port}`;

  peer = await startPeer({ phone: PHONE });
  edge = memoryEdge(pairedSession(cipher, instanceId, { id: `${PHONE}:1@s.whatsapp.net` }));
  let uploads = 0;
  edge.uploadTarget = ({ mime_type }) => {
    const id = `proj_rx/med_${++uploads}`;
    return {
      media_id: id,
      url: `${bucketUrl}/pombo-media/${id}?X-Amz-Expires=300&X-Amz-Signature=${randomBytes(8).toString("hex")}`,
      headers: { "content-type": mime_type, "x-amz-meta-instance": instanceId },
      expires_at: new Date(Date.now() + 300_000).toISOString(),
    };
  };
  await runNumber();
});

/** The number, on a real Baileys socket, with its own spool and drainer: what one fleet process runs. */
async function runNumber(): Promise<void> {
  // The peer serves its files on loopback: any media host will do, as an operator testing locally allows.
  inbound = testInbound({
    link: edge.link,
    cipher,
    logger,
    mediaHosts: { anyHost: true, allowPrivate: true },
    room: { minFreeBytes: 1024 ** 3, recheckMs: 50, freeBytes: () => freeBytes },
  });
  // The peer serves its files on loopback: an operator testing locally allows that.
  manager = peerManager({ instanceId, cipher, logger, edge, waUrl: peer.url, allowPrivateNetworks: true, spool: inbound.spool });
  manager.leaseGranted(grant);
  await until(() => manager.status.state === "connected", 10_000, "connected");
}

afterAll(async () => {
  await manager?.stop();
  inbound?.close();
  await peer?.close();
  bucket?.closeAllConnections();
  await new Promise<void>((resolve) => (bucket ? bucket.close(() => resolve()) : resolve()));
  restoreConsole?.();
});

/** What the socket told the peer about message `id`: its receipt, or an ack (with `error` when refused). */
const answersTo = (id: string) => peer.clientNodes().filter((n) => (n.tag === "receipt" || n.tag === "ack") && n.attrs.id === id);

const receivedCalls = (id: string) =>
  edge.arrivals.filter((a): a is Extract<Arrival, { kind: "message.received" }> => a.kind === "message.received" && a.message.wa_message_id === id);

describe("receiving from a real WhatsApp peer", () => {
  it("a customer's text reaches the edge with its chat, sender, push name and body; the text is never logged", async () => {
    const before = Math.floor(Date.now() / 1000);
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "Olá! Meu código é 739120, pedido 42", pushName: "Maria Souza" });
    await until(() => edge.stored.has(id), 10_000, "the text stored");
    expect(edge.stored.get(id)).toMatchObject({
      wa_message_id: id,
      chat_jid: CUSTOMER,
      chat_jid_alt: null,
      sender_jid: CUSTOMER,
      sender_jid_alt: null,
      push_name: "Maria Souza",
      from_me: false,
      offline: false,
      type: "text",
      body: "Olá! Meu código é 739120, pedido 42",
      quoted_id: null,
      media: null,
    });
    expect(edge.stored.get(id)!.timestamp).toBeGreaterThanOrEqual(before);
    expect(receivedCalls(id)).toHaveLength(1);

    expect(logs()).toContain(id);
    expect(logs()).toContain('"msg":"message received"');
    expect(logs()).not.toContain("739120");
    expect(logs()).not.toContain("pedido 42");
  });

  it("a voice note: the decrypted bytes are PUT to the presigned URL unchanged, and the message carries the stored file", async () => {
    const audio = Buffer.concat([Buffer.from("OggS"), randomBytes(48_000)]);
    const id = await peer.inject({
      chatJid: CUSTOMER,
      senderJid: CUSTOMER,
      audio: { contentBase64: audio.toString("base64"), mimeType: "audio/ogg; codecs=opus", ptt: true },
      pushName: "Maria Souza",
    });
    await until(() => edge.stored.has(id), 10_000, "the voice note stored");
    const stored = edge.stored.get(id)!;
    expect(stored).toMatchObject({ type: "audio", body: null, media_error: null });
    expect(stored.media).toEqual({ media_id: expect.stringMatching(/^proj_rx\/med_\d+$/), mime_type: "audio/ogg; codecs=opus", filename: null, size: audio.length, ptt: true });
    expect(edge.uploadRequests.at(-1)).toEqual({ mime_type: "audio/ogg; codecs=opus", size: audio.length, filename: null });

    const put = puts.find((p) => p.url.startsWith(`/pombo-media/${stored.media!.media_id}?`))!;
    expect(put).toBeDefined();
    expect(put.body.equals(audio)).toBe(true);
    expect(put.headers["content-type"]).toBe("audio/ogg; codecs=opus");
    expect(put.headers["x-amz-meta-instance"]).toBe(instanceId);
  });

  it("a LID chat: without the phone it arrives as the LID; once WhatsApp names the phone (sender_pn), the pair reaches the edge before that message", async () => {
    const lid = "217654321098765@lid";
    const pn = "5511977770001@s.whatsapp.net";
    const first = await peer.inject({ chatJid: lid, senderJid: lid, text: "oi, sou eu", pushName: "Cliente LID" });
    await until(() => edge.stored.has(first), 10_000, "the LID message stored");
    expect(edge.stored.get(first)).toMatchObject({ chat_jid: lid, chat_jid_alt: null, sender_jid: lid, sender_jid_alt: null, push_name: "Cliente LID" });
    const mappingsOf = (a: Arrival) => (a.kind === "lid.mappings" ? a.mappings : []);
    expect(edge.arrivals.flatMap(mappingsOf).filter((m) => m.lid === lid)).toEqual([]);

    const second = await peer.inject({ chatJid: lid, senderJid: lid, senderPn: pn, text: "agora com telefone", pushName: "Cliente LID" });
    await until(() => edge.stored.has(second), 10_000, "the second LID message stored");
    expect(edge.stored.get(second)).toMatchObject({ chat_jid: lid, chat_jid_alt: pn, sender_jid: lid, sender_jid_alt: pn });
    const pairAt = edge.arrivals.findIndex((a) => mappingsOf(a).some((m) => m.lid === lid && m.pn === pn));
    const messageAt = edge.arrivals.findIndex((a) => a.kind === "message.received" && a.message.wa_message_id === second);
    expect(pairAt).toBeGreaterThanOrEqual(0);
    expect(pairAt).toBeLessThan(messageAt);
  });

  it("a customer's edit and delete for everyone reach the edge as an edit and a revoke of that message, each under its own id and acknowledged, neither a message of its own", async () => {
    const original = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "pedido 41", pushName: "Maria Souza" });
    await until(() => edge.stored.has(original), 10_000, "the original stored");
    const edit = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, edit: { targetId: original, text: "pedido 42" }, pushName: "Maria Souza" });
    await until(() => edge.stored.has(edit), 10_000, "the edit delivered");
    expect(edge.stored.get(edit)).toMatchObject({ wa_message_id: edit, type: "edit", target_id: original, body: "pedido 42", chat_jid: CUSTOMER, sender_jid: CUSTOMER, from_me: false });
    const revoke = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, revoke: { targetId: original }, pushName: "Maria Souza" });
    await until(() => edge.stored.has(revoke), 10_000, "the revoke delivered");
    expect(edge.stored.get(revoke)).toMatchObject({ wa_message_id: revoke, type: "revoke", target_id: original, body: null, chat_jid: CUSTOMER, from_me: false });
    // Neither envelope became a message of its own, and the original was not sent again.
    expect(receivedCalls(original)).toHaveLength(1);
    for (const id of [edit, revoke]) {
      expect(receivedCalls(id)).toHaveLength(1);
      await until(() => peer.acknowledged(id), 5_000, `the receipt of ${id}`);
    }
    expect(logs()).not.toContain("pedido 42");
  });

  it("the edge failing (an error answer, then a link drop that loses its answer): the message arrives once, and is not sent again after the ack", async () => {
    edge.receivedFaults.push({ error: { code: "internal", message: "D1_ERROR: storage busy" } }, "lose_answer");
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "mensagem teimosa", pushName: "Maria Souza" });
    await until(() => receivedCalls(id).some((a) => a.answered === "lost"), 10_000, "the answer lost with the link");
    // The link comes back and the lease is granted again: what was pending goes at once.
    await new Promise((resolve) => setTimeout(resolve, 300));
    edge.restore();
    manager.leaseGranted(grant);
    inbound.drainer.wake(); // as the fleet does on every grant
    await until(() => receivedCalls(id).length === 3, 5_000, "the resend after the re-grant");
    expect(receivedCalls(id).map((a) => a.answered)).toEqual(["error", "lost", "duplicate"]);
    expect(edge.stored.get(id)).toMatchObject({ body: "mensagem teimosa", chat_jid: CUSTOMER });

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receivedCalls(id)).toHaveLength(3);
    expect(manager.status.state).toBe("connected");
  });

  it("WhatsApp gets the receipt only once the message is in the spool: with the disk too full to write, the receipt waits, then follows the write", async () => {
    freeBytes = 100 * 1024 ** 2; // below the spool's 1 GB floor
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "escrevi com o disco cheio", pushName: "Maria Souza" });
    await new Promise((resolve) => setTimeout(resolve, 800));
    // The socket holds the message: not on disk, so not acknowledged, so not the edge's either.
    expect(answersTo(id)).toEqual([]);
    expect(inbound.spool.size).toBe(0);
    expect(edge.stored.has(id)).toBe(false);
    expect(logs()).toContain("inbound spool full: holding WhatsApp's acknowledgements");

    freeBytes = 10 * 1024 ** 3;
    await until(() => answersTo(id).length > 0, 5_000, "the receipt once there is room");
    expect(answersTo(id).map((n) => [n.tag, n.attrs.error])).toEqual([["receipt", undefined]]);
    await until(() => edge.stored.has(id), 5_000, "stored");
    expect(edge.stored.get(id)).toMatchObject({ body: "escrevi com o disco cheio", chat_jid: CUSTOMER });
    await until(() => inbound.spool.size === 0, 2_000, "the row deleted once the edge stored it");
  });

  it("a message the spool cannot take (closed, as when the process drains) gets no receipt: the socket nacks it, WhatsApp keeps it, and it arrives once on the next connection", async () => {
    inbound.close();
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "chegou durante o desligamento", pushName: "Maria Souza" });
    await until(() => answersTo(id).length > 0, 5_000, "the socket's answer");
    const answers = answersTo(id);
    expect(answers.map((n) => n.tag)).toEqual(["ack"]);
    expect(answers[0]!.attrs).toMatchObject({ class: "message", error: expect.any(String) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answersTo(id).some((n) => n.tag === "receipt")).toBe(false);
    expect(edge.stored.has(id)).toBe(false);

    // The next process to run the number, with a spool that works: WhatsApp delivers it again, from its offline queue.
    await manager.stop();
    await runNumber();
    await until(() => edge.stored.has(id), 10_000, "stored after the redelivery");
    expect(edge.stored.get(id)).toMatchObject({ body: "chegou durante o desligamento", offline: true });
    await until(() => answersTo(id).length === 2, 5_000, "the receipt of the redelivery");
    expect(answersTo(id).map((n) => n.tag)).toEqual(["ack", "receipt"]);
    expect(receivedCalls(id)).toHaveLength(1);
  });
});

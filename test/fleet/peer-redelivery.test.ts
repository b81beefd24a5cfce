/**
 * The test peer keeps a received message until the client acknowledges it,
 * as WhatsApp does: a message written to a socket whose client died before
 * sending its receipt comes again on the client's next connection, marked
 * offline (Baileys upserts it as `append`). Without this, a crash test would
 * count as Pombo's loss what WhatsApp itself would have delivered again.
 * What a connection never answered goes to the number's connection that is
 * open, even one that opened before the peer saw the old one close.
 * (patches/@openclaw+crabline+0.1.27.patch; used by `npm run chaos`.)
 */
import type { WAMessage } from "@whiskeysockets/baileys";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCreds } from "../harness/peers.ts";
import { type RawConnectResult, rawConnect } from "../harness/raw-baileys.ts";
import { type TestPeer, startPeer } from "../peer/peer.ts";

const PHONE = "5511999990031";
const CUSTOMER = "5511988883333@s.whatsapp.net";

let peer: TestPeer;
const clients: RawConnectResult[] = [];

beforeAll(async () => {
  peer = await startPeer({ phone: PHONE });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await peer.close();
});

async function connect(): Promise<{ client: RawConnectResult; received: { msg: WAMessage; type: string }[] }> {
  const client = rawConnect(peer.url, makeCreds(PHONE));
  clients.push(client);
  const received: { msg: WAMessage; type: string }[] = [];
  client.sock.ev.on("messages.upsert", ({ messages, type }) => {
    for (const msg of messages) received.push({ msg, type });
  });
  await client.opened;
  return { client, received };
}

/** The TCP socket under Baileys' WebSocket (ws keeps it as `_socket`). */
const tcpOf = (client: RawConnectResult) => (client.sock.ws as unknown as { socket: { _socket: Socket } }).socket._socket;

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("test peer: unacknowledged inbound messages", () => {
  it("a message written to a client that died before its receipt reaches the next connection, marked offline", async () => {
    const first = await connect();
    // The client stops reading (a process frozen or killed): the peer writes, nobody receipts.
    tcpOf(first.client).pause();
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "did you get this?" });
    await new Promise((r) => setTimeout(r, 300));
    tcpOf(first.client).destroy();
    expect(first.received.some((r) => r.msg.key.id === id)).toBe(false);

    const second = await connect();
    await until(() => second.received.some((r) => r.msg.key.id === id), 10_000, "the redelivery");
    const again = second.received.find((r) => r.msg.key.id === id)!;
    expect(again.msg.message?.conversation).toBe("did you get this?");
    expect(again.type).toBe("append");
    second.client.close();
  });

  it("a message left unanswered by a connection that dies after the number's next one opened reaches the open one", async () => {
    // Under load a number's new socket can open before the peer has seen its old one close
    // (bench:inbound at 60/s): what the old one never answered must not wait for yet another connection.
    const first = await connect();
    tcpOf(first.client).pause();
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "still there?" });
    await new Promise((r) => setTimeout(r, 300));
    const second = await connect();
    tcpOf(first.client).destroy();

    await until(() => second.received.some((r) => r.msg.key.id === id), 10_000, "the redelivery to the open connection");
    const again = second.received.find((r) => r.msg.key.id === id)!;
    expect(again.msg.message?.conversation).toBe("still there?");
    expect(again.type).toBe("append");
    second.client.close();
  });

  it("a message the client acknowledged is not delivered again", async () => {
    const first = await connect();
    const id = await peer.inject({ chatJid: CUSTOMER, senderJid: CUSTOMER, text: "once only" });
    await until(() => first.received.some((r) => r.msg.key.id === id), 10_000, "the message");
    // Its receipt has left before the upsert (Baileys receipts first); give it time to land.
    await new Promise((r) => setTimeout(r, 300));
    first.client.close();

    const second = await connect();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(second.received.filter((r) => r.msg.key.id === id)).toEqual([]);
    second.client.close();
  });
});

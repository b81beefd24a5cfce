/**
 * Read receipts and presence against a real WhatsApp-protocol peer: the
 * peer records every node the number's socket sends (`clientNodes()`), so
 * a read receipt is a `receipt` of type `read` naming the customer's
 * message, typing is a `chatstate` with `composing`, and a presence
 * subscription is a `presence` of type `subscribe`. The peer never sends
 * presence back: that half is tested around the socket
 * (test/fleet/chat-signals.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Fleet } from "../harness/fleet.ts";
import type { Peer } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { sleep, waitFor } from "../harness/waits.ts";

type Page<T> = { data: T[]; next_cursor: string | null };

describe("e2e: read receipts and presence", () => {
  const stack = useStack("read-and-presence", 1);
  let peer: Peer;
  let fleet: Fleet;
  let instanceId: string;
  let seq = 0;
  const customer = () => `55119667${String(++seq).padStart(5, "0")}@s.whatsapp.net`;

  beforeAll(async () => {
    peer = stack.peers.peers[0]!;
    const started = await stack.fleetWithNumbers(1, { timeoutMs: 30_000 });
    fleet = started.fleet;
    instanceId = started.instances[0]!.id;
  });

  /** The customer writes; resolves with the WhatsApp id once the edge stored it. */
  async function write(jid: string, text: string): Promise<string> {
    const waId = await peer.inject({ chatJid: jid, senderJid: jid, text, pushName: "Cliente" });
    await waitFor(
      async () => {
        const page = await stack.api.call<Page<{ wa_message_id: string }>>("GET", `/conversations/${jid}/messages`).catch(() => null);
        return page?.data.some((m) => m.wa_message_id === waId);
      },
      15_000,
      { what: `message ${waId} stored` },
    );
    return waId;
  }

  const readReceiptFor = (waId: string) => () =>
    peer.clientNodes().some((n) => n.tag === "receipt" && n.attrs.type === "read" && n.attrs.id === waId);
  const subscriptionsTo = (jid: string) => peer.clientNodes().filter((n) => n.tag === "presence" && n.attrs.type === "subscribe" && n.attrs.to === jid).length;
  const setAutoRead = (on: boolean) => stack.api.call("PATCH", "/settings", { auto_read: on });

  it("reading the conversation puts a read receipt naming the customer's message on the wire; typing arrives as a chatstate", async () => {
    const jid = customer();
    const waId = await write(jid, "vocês estão aí?");
    expect(readReceiptFor(waId)()).toBe(false);

    const read = await stack.api.call<{ receipts_queued: number }>("POST", `/conversations/${jid}/read`);
    expect(read.receipts_queued).toBe(1);
    await waitFor(readReceiptFor(waId), 10_000, { what: "a read receipt at the peer" });
    const receipt = peer.clientNodes().find((n) => n.tag === "receipt" && n.attrs.type === "read" && n.attrs.id === waId)!;
    expect(receipt.attrs.to).toBe(jid);

    const typing = await stack.api.call<{ instance_id: string }>("POST", `/conversations/${jid}/presence`, { state: "composing" });
    expect(typing.instance_id).toBe(instanceId);
    const chatstate = await waitFor(
      () => peer.clientNodes().find((n) => n.tag === "chatstate" && n.attrs.to === jid && n.children.some((c) => c.tag === "composing")),
      10_000,
      { what: "a composing chatstate at the peer" },
    );
    expect(chatstate.children).toEqual([{ tag: "composing", attrs: {} }]);
  });

  it("with auto_read on, a customer's message gets its read receipt with no call", async () => {
    await setAutoRead(true);
    try {
      const jid = customer();
      const waId = await peer.inject({ chatJid: jid, senderJid: jid, text: "recibo automático", pushName: "Cliente" });
      await waitFor(readReceiptFor(waId), 15_000, { what: "an automatic read receipt at the peer" });
    } finally {
      await setAutoRead(false);
    }
  });

  it("a receipt accepted while the fleet is down, and a presence subscription, reach WhatsApp when a new fleet connects the number", async () => {
    const jid = customer();
    const waId = await write(jid, "me responde quando der");
    await stack.api.call("POST", `/conversations/${jid}/presence/subscribe`);
    await waitFor(() => subscriptionsTo(jid) === 1, 10_000, { what: "a presence subscription at the peer" });

    expect(await fleet.stop(20_000)).toBe(0);
    await waitFor(async () => (await stack.api.call<{ state: string }>("GET", `/instances/${instanceId}`)).state !== "connected", 10_000, {
      what: "the number offline",
    });
    const read = await stack.api.call<{ receipts_queued: number }>("POST", `/conversations/${jid}/read`);
    expect(read.receipts_queued).toBe(1);
    await sleep(1_000);
    expect(readReceiptFor(waId)()).toBe(false);

    fleet = stack.fleet();
    await stack.waitConnected([instanceId], 30_000, fleet.fleetId);
    await waitFor(readReceiptFor(waId), 15_000, { what: "the queued read receipt at the peer after the reconnect" });
    // WhatsApp forgot the subscription with the old socket: the number made it again.
    await waitFor(() => subscriptionsTo(jid) === 2, 10_000, { what: "the presence subscription made again" });
  });
});

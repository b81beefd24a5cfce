/**
 * The harness itself, without edge or fleet: the routing proxy takes a raw
 * Baileys socket to the right crabline peer, counts it, and refuses unknown ids;
 * peers in child processes (bench:inbound) put a customer's message on a number's socket.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WAMessage } from "@whiskeysockets/baileys";
import { PeerProcesses } from "../harness/peer-processes.ts";
import { makeCreds, startPeers, type Peers } from "../harness/peers.ts";
import { rawConnect } from "../harness/raw-baileys.ts";
import { RoutingProxy } from "../harness/routing-proxy.ts";
import { waitFor } from "../harness/waits.ts";

describe("e2e harness: peers and routing proxy", () => {
  let peers: Peers;
  let proxy: RoutingProxy;

  beforeAll(async () => {
    peers = await startPeers(2);
    proxy = await new RoutingProxy().start();
  });
  afterAll(async () => {
    await proxy?.close();
    await peers?.close();
  });

  it("routes /{instance_id}/ws/chat to the peer and counts live sockets", async () => {
    proxy.route("inst_a", peers.peers[0]!);
    proxy.route("inst_b", peers.peers[1]!);
    const url = (id: string) => proxy.waUrl(peers.accessToken).replace("{instance_id}", id);
    const a = rawConnect(url("inst_a"), makeCreds(peers.peers[0]!.phone));
    const b = rawConnect(url("inst_b"), makeCreds(peers.peers[1]!.phone));
    try {
      await Promise.all([a.opened, b.opened]);
      expect(a.sock.user?.id).toContain(peers.peers[0]!.phone);
      expect(proxy.liveCount("inst_a")).toBe(1);
      expect(proxy.liveCount("inst_b")).toBe(1);
    } finally {
      a.close();
      b.close();
    }
    await waitFor(() => proxy.liveCount("inst_a") === 0 && proxy.liveCount("inst_b") === 0, 5_000, { what: "sockets closed" });
    expect(proxy.maxConcurrent("inst_a")).toBe(1);
    expect(proxy.connectionsTotal("inst_a")).toBe(1);
  });

  it("refuses an instance id it has no route for (after a short wait)", async () => {
    proxy.routeWaitMs = 300;
    const c = rawConnect(proxy.waUrl(peers.accessToken).replace("{instance_id}", "nope"), makeCreds("5511911111111"));
    await expect(c.opened).rejects.toThrow(/closed before open/);
    c.close();
    expect(proxy.liveCount("nope")).toBe(0);
    expect(proxy.events.some((e) => e.instanceId === "nope" && e.kind === "reject")).toBe(true);
  });
});

describe("e2e harness: peers in child processes", () => {
  let shards: PeerProcesses;
  let proxy: RoutingProxy;

  beforeAll(async () => {
    shards = await PeerProcesses.start(3, 2);
    proxy = await new RoutingProxy().start();
  });
  afterAll(async () => {
    await proxy?.close();
    await shards?.close();
  });

  it("injects a customer's message from the right child onto the number's socket, and says its id and when", async () => {
    // Peer 2 is the second child's first: the global index must reach the right process and peer.
    const peer = shards.peers[2]!;
    proxy.route("inst_c", peer);
    const sock = rawConnect(proxy.waUrl(shards.accessToken).replace("{instance_id}", "inst_c"), makeCreds(peer.phone));
    const received: WAMessage[] = [];
    sock.sock.ev.on("messages.upsert", ({ messages }) => received.push(...messages));
    try {
      await sock.opened;
      const customer = "5511944000001@s.whatsapp.net";
      const asked = Date.now();
      const { waId, at } = await shards.inject(2, { chatJid: customer, senderJid: customer, text: "oi from a child", pushName: "Cliente" });
      expect(at).toBeGreaterThanOrEqual(asked);
      await waitFor(() => received.some((m) => m.key.id === waId), 10_000, { what: "the injected message on the socket" });
      const m = received.find((m) => m.key.id === waId)!;
      expect(m.key.remoteJid).toBe(customer);
      expect(m.message?.conversation ?? m.message?.extendedTextMessage?.text).toBe("oi from a child");
    } finally {
      sock.close();
    }
  });

  it("refuses to inject through a peer it does not have", async () => {
    const c = "5511944000002@s.whatsapp.net";
    await expect(shards.inject(3, { chatJid: c, senderJid: c, text: "x" })).rejects.toThrow(/no peer #3/);
  });
});

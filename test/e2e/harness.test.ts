/**
 * The harness itself, without edge or fleet: the routing proxy takes a raw
 * Baileys socket to the right crabline peer, counts it, and refuses unknown ids.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

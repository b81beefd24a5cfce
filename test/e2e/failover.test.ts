/**
 * (c) Two fleets; the one holding the numbers is SIGKILLed. The numbers move
 * to the survivor within 30 s of the kill (lease expiry), and no number ever
 * has two live WhatsApp sockets.
 */
import { describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";

const FAILOVER_BUDGET_MS = 30_000;

describe("e2e: failover after a fleet is killed", () => {
  const stack = useStack("failover", 2);
  it("SIGKILL of the holder: both numbers connected on the other fleet within 30 s, never two sockets", async () => {
    // The first fleet takes the numbers; the second joins once they are connected.
    const { fleet: a, instances } = await stack.fleetWithNumbers(2, { timeoutMs: 30_000 });
    const ids = instances.map((i) => i.id);

    const b = stack.fleet();
    await stack.waitRegistered(b, 20_000);
    // Let any rebalancing settle: everything connected, wherever it runs.
    const settled = await stack.waitConnected(ids, 30_000);

    const holderId = settled[0]!.fleet_id;
    const holder = holderId === a.fleetId ? a : b;
    const survivor = holder === a ? b : a;
    const moving = settled.filter((i) => i.fleet_id === holder.fleetId).map((i) => i.id);
    expect(moving.length, "numbers on the fleet that is killed").toBeGreaterThan(0);
    if (moving.length !== ids.length) console.warn(`numbers were split across fleets; ${moving.length} move`);

    const killedAt = Date.now();
    await holder.kill();
    await stack.waitConnected(ids, FAILOVER_BUDGET_MS + 5_000, survivor.fleetId);
    const failoverMs = Date.now() - killedAt;
    console.log(`failover: ${moving.length} number(s) connected on ${survivor.fleetId} ${failoverMs} ms after SIGKILL`);
    expect(failoverMs).toBeLessThanOrEqual(FAILOVER_BUDGET_MS);

    for (const id of ids) {
      expect(stack.proxy.liveCount(id)).toBe(1);
      expect(stack.proxy.maxConcurrent(id), `max concurrent sockets for ${id}`).toBeLessThanOrEqual(1);
    }
    // Still exactly one socket each a little later (no late duplicate from a retry).
    await new Promise((r) => setTimeout(r, 3_000));
    for (const id of ids) {
      expect(stack.proxy.liveCount(id)).toBe(1);
      expect(stack.proxy.maxConcurrent(id)).toBeLessThanOrEqual(1);
    }
    const fleets = await stack.admin.fleets();
    expect(fleets.data.map((f) => f.fleet_id)).not.toContain(holder.fleetId);
  });
});

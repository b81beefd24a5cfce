/**
 * (a) One edge, one fleet, two numbers: each imported session connects
 * through its own WhatsApp-protocol peer.
 */
import { describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

describe("e2e: two numbers connect on one fleet", () => {
  const stack = useStack("connect", 3);
  it("imports a session for each number and both reach connected, one live socket each", async () => {
    const fleet = stack.fleet();
    const instances = await stack.createInstances(2);
    for (const inst of instances) {
      expect(inst.state).not.toBe("connected");
    }
    await Promise.all(instances.map((inst, i) => stack.importFor(inst, stack.peers.peers[i]!)));

    const ids = instances.map((i) => i.id);
    const connected = await stack.waitConnected(ids, 30_000, fleet.fleetId);
    for (const [i, inst] of connected.entries()) {
      expect(inst.fleet_id).toBe(fleet.fleetId);
      expect(inst.reason).toBeNull();
      expect(inst.jid ?? "").toContain(stack.peers.peers[i]!.phone);
      expect(stack.proxy.liveCount(inst.id)).toBe(1);
      expect(stack.proxy.maxConcurrent(inst.id)).toBe(1);
    }

    // GET /instances/{id} agrees with the list.
    const one = await stack.api.getInstance(ids[0]!);
    expect(one.state).toBe("connected");

    // The admin view counts both numbers on the one fleet.
    const fleets = await stack.admin.fleets();
    const mine = fleets.data.find((f) => f.fleet_id === fleet.fleetId);
    expect(mine).toBeDefined();
    expect(mine!.instances).toBe(2);
  });

  it("a dropped WhatsApp connection comes back on its own (transient), still one socket", async () => {
    const fleet = stack.fleets[0] ?? stack.fleet();
    const [inst] = await stack.connectNumbers(1, { timeoutMs: 30_000, fleetId: fleet.fleetId, prefix: "drop", firstPeer: 2 });
    const before = stack.proxy.connectionsTotal(inst!.id);

    const seen = new Set<string>();
    stack.proxy.cut(inst!.id);
    const t0 = Date.now();
    await waitFor(
      async () => {
        const i = await stack.api.getInstance(inst!.id);
        seen.add(`${i.state}/${i.reason}`);
        return i.state === "connected" && stack.proxy.connectionsTotal(inst!.id) > before && stack.proxy.liveCount(inst!.id) === 1;
      },
      30_000,
      { intervalMs: 50, what: "reconnect after the drop" },
    );
    console.log(`reconnected ${Date.now() - t0} ms after the drop; states seen: ${[...seen].join(", ")}`);
    expect(stack.proxy.maxConcurrent(inst!.id)).toBe(1);
  });
});

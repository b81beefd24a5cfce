/**
 * (b) A fleet restart (SIGTERM, then a new process) brings both numbers back
 * with the sessions stored at the edge: no second import.
 */
import { describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

describe("e2e: fleet restart reconnects with stored sessions", () => {
  const stack = useStack("restart", 2);
  it("SIGTERM drains, a new fleet reconnects both numbers without a new import", async () => {
    const { fleet: first, instances } = await stack.fleetWithNumbers(2, { timeoutMs: 30_000 });
    const ids = instances.map((i) => i.id);
    const before = ids.map((id) => stack.proxy.connectionsTotal(id));

    // Graceful stop: the process exits on its own and closes its WhatsApp sockets.
    const t0 = Date.now();
    const code = await first.stop(20_000);
    const drainMs = Date.now() - t0;
    expect(code, `fleet exit code (drain took ${drainMs} ms)`).toBe(0);
    // (The proxy may see the FIN a moment after the exit is reported.)
    await waitFor(() => ids.every((id) => stack.proxy.liveCount(id) === 0), 2_000, { what: "WhatsApp sockets closed" });

    // With no fleet, the API must not claim the numbers are connected.
    await waitFor(
      async () => (await stack.api.listInstances()).data.every((i) => i.state !== "connected"),
      10_000,
      { what: "instances to leave 'connected' after the drain" },
    );

    const second = stack.fleet();
    const t1 = Date.now();
    const back = await stack.waitConnected(ids, 30_000, second.fleetId);
    console.log(`fleet drain ${drainMs} ms; reconnect on the new fleet ${Date.now() - t1} ms`);
    for (const [i, inst] of back.entries()) {
      expect(inst.fleet_id).toBe(second.fleetId);
      expect(inst.jid ?? "").toContain(stack.peers.peers[i]!.phone);
      expect(stack.proxy.liveCount(inst.id)).toBe(1);
      // The peer saw a new connection, made with the stored session.
      expect(stack.proxy.connectionsTotal(inst.id)).toBeGreaterThan(before[i]!);
      expect(stack.proxy.maxConcurrent(inst.id)).toBe(1);
    }
  });
});

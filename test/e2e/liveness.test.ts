/**
 * A dead WhatsApp socket that looks alive: the WhatsApp-protocol peer goes
 * silent without closing (the routing proxy stops carrying bytes both ways
 * and keeps both TCP connections open). The fleet must notice within its
 * bound, drop the socket, count it, and end connected again on one socket.
 */
import { describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";
import { sleep, waitFor } from "../harness/waits.ts";

/** The fleet's bound for these tests; Baileys then pings every 4 s (two thirds of it). */
const SILENCE_MS = 6_000;

describe("e2e: a WhatsApp peer that goes silent without closing", () => {
  const stack = useStack("liveness", 1);
  it("is replaced within the bound, counted in GET /instances/{id} and the fleet's log, and the number ends connected on one socket", async () => {
    // Created and imported at once, while the fleet process is still starting: the edge waits for it.
    const silenceBound = { env: { POMBO_WA_SILENCE_MS: String(SILENCE_MS) } };
    const { fleet, instances: [inst] } = await stack.fleetWithNumbers(1, { timeoutMs: 30_000, fleet: silenceBound });

    // A healthy idle socket is left alone: Baileys' keep-alive answers arrive inside the bound.
    await sleep(SILENCE_MS * 1.5);
    expect((await stack.api.getInstance(inst!.id)).dead_socket_reconnects).toBe(0);
    const before = stack.proxy.connectionsTotal(inst!.id);
    expect(stack.proxy.liveCount(inst!.id)).toBe(1);

    expect(stack.proxy.silence(inst!.id)).toBe(1);
    const silencedAt = Date.now();
    const states = new Set<string>();
    await waitFor(
      async () => {
        const i = await stack.api.getInstance(inst!.id);
        states.add(`${i.state}/${i.reason}`);
        const sockets = { total: stack.proxy.connectionsTotal(inst!.id), live: stack.proxy.liveCount(inst!.id) };
        if (i.state === "connected" && sockets.total > before && sockets.live === 1) return true;
        throw new Error(`${i.state}/${i.reason}, sockets ${JSON.stringify(sockets)} (before: ${before})`);
      },
      30_000,
      { intervalMs: 100, what: "connected again on a new socket" },
    );
    const tookMs = Date.now() - silencedAt;
    console.log(`silent socket replaced and connected again ${tookMs} ms after the peer went silent; states seen: ${[...states].join(", ")}`);
    // The bound, one watchdog tick, the reconnect backoff (< 1 s) and a handshake, with room for a loaded machine.
    expect(tookMs).toBeLessThan(SILENCE_MS + 9_000);
    expect(states).toContain("disconnected/transient");

    const instance = await stack.api.getInstance(inst!.id);
    expect(instance).toMatchObject({ state: "connected", dead_socket_reconnects: 1, last_close_code: 408 });
    expect(stack.proxy.maxConcurrent(inst!.id)).toBe(1);
    expect(fleet.tail(400)).toContain("WhatsApp socket silent, replacing it");
  });
});

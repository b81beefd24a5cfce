import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { directoryOf } from "../../edge/objects/stubs.ts";
import { ADMIN, type FleetSocket, call, joinDirectory, newInstance, newProject, resetDirectory } from "./helpers.ts";


// Storage is per file, and the directory is one object: start each test with no fleets and no numbers.
afterEach(resetDirectory);

/** Collects assign/revoke frames a fleet receives, as a set of instance ids it should run. */
function track(socket: FleetSocket, initial: string[] = []) {
  const running = new Set(initial);
  return {
    running,
    /** Reads frames until none arrives for a moment. */
    async drain() {
      for (;;) {
        let frame: any;
        try {
          frame = await socket.next(300);
        } catch {
          return running;
        }
        if (frame.event === "assign") for (const id of frame.data.instance_ids) running.add(id);
        if (frame.event === "revoke") for (const id of frame.data.instance_ids) running.delete(id);
      }
    },
  };
}

/** fleet-a joins, then the project makes a number for each of `names`; resolves once fleet-a's frames stop. */
async function fleetAThenNumbers(apiKey: string, names: string[]) {
  const a = await joinDirectory("fleet-a");
  const ta = track(a.socket);
  const ids: string[] = [];
  for (const name of names) ids.push((await newInstance(apiKey, name)).id);
  await ta.drain();
  return { a, ta, ids };
}

describe("the fleet directory spreads numbers over fleet processes", () => {
  it("gives new numbers to the least loaded process", async () => {
    const { api_key } = await newProject();
    const a = await joinDirectory("fleet-a");
    const b = await joinDirectory("fleet-b");
    expect(a.first).toMatchObject({ event: "assign", data: { instance_ids: [] } });
    const ta = track(a.socket);
    const tb = track(b.socket);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await newInstance(api_key, `n${i}`)).id);
    await ta.drain();
    await tb.drain();
    expect(ta.running.size).toBe(3);
    expect(tb.running.size).toBe(3);
    expect(new Set([...ta.running, ...tb.running])).toEqual(new Set(ids));

    const fleets = await call("/admin/fleets", { token: ADMIN });
    expect(fleets.json.data.map((f: any) => [f.fleet_id, f.instances]).sort()).toEqual([
      ["fleet-a", 3],
      ["fleet-b", 3],
    ]);
  });

  it("moves a dead process's numbers to the live ones", async () => {
    const { api_key } = await newProject();
    const { a, ta, ids } = await fleetAThenNumbers(api_key, ["x", "y"]);
    expect([...ta.running].sort()).toEqual([...ids].sort());

    const b = await joinDirectory("fleet-b");
    const tb = track(b.socket);
    a.socket.ws.close(1001, "killed");
    await a.socket.closed;
    await tb.drain();
    expect([...tb.running].sort()).toEqual([...ids].sort());
  });

  it("tells a reconnecting process its complete list, keeping its numbers", async () => {
    const { api_key } = await newProject();
    const { a, ids: [id] } = await fleetAThenNumbers(api_key, ["n1"]);
    const again = await joinDirectory("fleet-a");
    expect(again.first).toMatchObject({ event: "assign", data: { instance_ids: [id] } });
    // The older link of the same process is closed: one link per process.
    await a.socket.closed;
  });

  it("a process reaped for silence (the edge was paused) that says hello again keeps its numbers: its first, complete list has them, and no assign or revoke follows", async () => {
    const { api_key } = await newProject();
    const { a, ta, ids } = await fleetAThenNumbers(api_key, ["p", "q"]);
    expect([...ta.running].sort()).toEqual([...ids].sort());

    // Its pings stopped long ago, as the directory sees it after a pause: the periodic check reaps it.
    await runInDurableObject(directoryOf(env), (_o, state) => {
      for (const ws of state.getWebSockets()) {
        ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), connected_at: Date.now() - 60_000 });
      }
    });
    expect(await runDurableObjectAlarm(directoryOf(env))).toBe(true);
    expect((await a.socket.closed).code).toBe(4008);

    // The same process (still running both numbers) reconnects.
    const again = await joinDirectory("fleet-a");
    expect(again.first).toMatchObject({ event: "assign" });
    expect([...again.first.data.instance_ids].sort()).toEqual([...ids].sort());
    const frames: any[] = [];
    for (;;) {
      try {
        frames.push(await again.socket.next(300));
      } catch {
        break;
      }
    }
    expect(frames).toEqual([]);
  });

  it("evens the load out when a process joins, on its periodic check", async () => {
    const { api_key } = await newProject();
    const { ta } = await fleetAThenNumbers(api_key, ["n0", "n1", "n2", "n3"]);
    expect(ta.running.size).toBe(4);

    const b = await joinDirectory("fleet-b");
    const tb = track(b.socket, b.first.data.instance_ids);
    expect(await runDurableObjectAlarm(directoryOf(env))).toBe(true);
    await ta.drain();
    await tb.drain();
    expect(ta.running.size).toBe(2);
    expect(tb.running.size).toBe(2);
  });

  it("respects a process's capacity and leaves the rest waiting for room", async () => {
    const { api_key } = await newProject();
    const a = await joinDirectory("fleet-a", 1);
    const ta = track(a.socket);
    await newInstance(api_key, "first");
    await newInstance(api_key, "second");
    await ta.drain();
    expect(ta.running.size).toBe(1);
    const b = await joinDirectory("fleet-b", 5);
    const tb = track(b.socket, b.first.data.instance_ids);
    await tb.drain();
    expect(tb.running.size).toBe(1);
  });

  it("revokes a deleted number from the process running it", async () => {
    const { api_key } = await newProject();
    const { ta, ids: [id] } = await fleetAThenNumbers(api_key, ["n1"]);
    expect(ta.running.has(id)).toBe(true);
    expect((await call(`/instances/${id}`, { method: "DELETE", token: api_key })).status).toBe(204);
    await ta.drain();
    expect(ta.running.has(id)).toBe(false);
  });
});

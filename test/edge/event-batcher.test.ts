/**
 * EventBatcher (services/events.ts), the number's object's way to publish:
 * what it publishes while a call to the hub is out goes in one next call,
 * in workerd with the real hub. The hub's namespace is wrapped to count the
 * calls (a call between objects is what each publish costs: bench:costs)
 * and, for one test, to refuse a batch that holds a given event.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../edge/env.ts";
import { hubOf } from "../../edge/objects/stubs.ts";
import { shardOf } from "../../edge/services/event-shards.ts";
import { EventBatcher, type NewEvent, type SealedEvent } from "../../edge/services/events.ts";
import { receivedEvent } from "./event-fixtures.ts";
import { newProject } from "./helpers.ts";

/** `e` with its EVENTS namespace counting each hub call's events (and refusing, with `refuse`, a call holding such an event). */
function counting(e: Env, refuse?: (event: SealedEvent) => boolean) {
  const calls: number[] = [];
  const EVENTS = {
    idFromName: (name: string) => e.EVENTS.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = e.EVENTS.get(id);
      return {
        publish: async (projectId: string, events: SealedEvent[]) => {
          calls.push(events.length);
          if (refuse && events.some(refuse)) throw new Error("the hub refused the call");
          return stub.publish(projectId, events);
        },
      };
    },
  };
  return { env: new Proxy(e, { get: (target, key) => (key === "EVENTS" ? EVENTS : Reflect.get(target, key)) }), calls };
}

/** The bodies in a hub's log, in its order. */
const logged = (projectId: string, shard = 0) =>
  runInDurableObject(hubOf(env, projectId, shard), (_hub, state) =>
    state.storage.sql
      .exec<{ body: string }>("SELECT body FROM events ORDER BY seq")
      .toArray()
      .map((r) => (JSON.parse(r.body) as { payload: { body: string } }).payload.body),
  );

describe("EventBatcher", () => {
  it("publishes made while a call to the hub is out go together in the next call, logged in the order published, each answered with its event", async () => {
    const { id: projectId } = await newProject();
    const { env: counted, calls } = counting(env);
    const batcher = new EventBatcher(counted);
    const bodies = ["um", "dois", "três", "quatro", "cinco"];
    const answers = await Promise.all(bodies.map((b) => batcher.publish(projectId, receivedEvent(b))));
    // The first goes at once; the four made while it was out share one call.
    expect(calls).toEqual([1, 4]);
    expect(await logged(projectId)).toEqual(bodies);
    expect(answers.map(([e]) => (e as { payload: { body: string } }).payload.body)).toEqual(bodies);
  });

  it("a publish alone goes at once, in a call of its own, as before", async () => {
    const { id: projectId } = await newProject();
    const { env: counted, calls } = counting(env);
    const batcher = new EventBatcher(counted);
    for (const b of ["um", "dois", "três"]) await batcher.publish(projectId, receivedEvent(b));
    expect(calls).toEqual([1, 1, 1]);
    expect(await logged(projectId)).toEqual(["um", "dois", "três"]);
  });

  it("a call the hub refuses is tried again one publish at a time: only the publish the hub cannot take fails", async () => {
    const { id: projectId } = await newProject();
    const { env: counted, calls } = counting(env, (event) => event.body.includes("veneno"));
    const batcher = new EventBatcher(counted);
    const outcomes = await Promise.allSettled(["um", "veneno", "três", "quatro"].map((b) => batcher.publish(projectId, receivedEvent(b))));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    // One alone, three together (refused), then each of the three alone.
    expect(calls).toEqual([1, 3, 1, 1, 1]);
    expect(await logged(projectId)).toEqual(["um", "três", "quatro"]);
  });

  it("keeps the hubs of a sharded project apart: each number's events reach its own hub", async () => {
    const { id: projectId } = await newProject();
    const sharded = { ...env, POMBO_EVENT_SHARDS: "4" } as Env;
    const { env: counted, calls } = counting(sharded);
    const batcher = new EventBatcher(counted);
    const numbers = ["inst-a", "inst-b", "inst-c", "inst-d", "inst-e", "inst-f"];
    const said = (id: string, n: number) => ({ ...receivedEvent(`${id} ${n}`), instance_id: id }) as NewEvent;
    await Promise.all(numbers.flatMap((id) => [0, 1].map((n) => batcher.publish(projectId, said(id, n)))));
    for (let shard = 0; shard < 4; shard++) {
      const mine = numbers.filter((id) => shardOf(id, 4) === shard);
      expect(await logged(projectId, shard)).toEqual(mine.flatMap((id) => [`${id} 0`, `${id} 1`]));
    }
    // One call per hub in use, then one for what waited on each.
    const hubs = new Set(numbers.map((id) => shardOf(id, 4))).size;
    expect(calls.reduce((a, b) => a + b, 0)).toBe(12);
    expect(calls.length).toBeLessThanOrEqual(2 * hubs);
  });
});

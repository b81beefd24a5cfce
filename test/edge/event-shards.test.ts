/**
 * A project's events over several hubs (POMBO_EVENT_SHARDS), in workerd with
 * real Durable Objects: each number's events in one hub, GET /events merging
 * them, and Last-Event-ID resuming exactly across hubs. The stream is opened
 * through the service the route calls (`openEventStream`), with the setting
 * raised in the env it is given, as the Worker's own env keeps the default.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hubOf } from "../../edge/objects/stubs.ts";
import { shardOf } from "../../edge/services/event-shards.ts";
import { openEventStream } from "../../edge/services/event-stream.ts";
import { type NewEvent, publish } from "../../edge/services/events.ts";
import { receivedEvent } from "./event-fixtures.ts";
import { call, newProject, waitFor } from "./helpers.ts";
import { type Frame, readFrames } from "./sse.ts";

const SHARDS = 4;
const SHARDED = { ...env, POMBO_EVENT_SHARDS: String(SHARDS) };

/** Numbers whose events land on every hub: three per hub. */
const NUMBERS = (() => {
  const perShard = new Map<number, string[]>();
  for (let i = 0; perShard.size < SHARDS || [...perShard.values()].some((l) => l.length < 3); i++) {
    const id = `inst-${i}`;
    const list = perShard.get(shardOf(id, SHARDS)) ?? [];
    if (list.length < 3) perShard.set(shardOf(id, SHARDS), [...list, id]);
  }
  return [...perShard.values()].flat();
})();

const said = (instanceId: string, n: number): NewEvent => ({ ...receivedEvent(`${instanceId} ${n}`), instance_id: instanceId }) as NewEvent;

/** Publishes `rounds` events per number, every number's in its own publish at once (so all hubs work together). */
async function publishRounds(e: typeof env, projectId: string, from: number, rounds: number) {
  for (let n = from; n < from + rounds; n++) await Promise.all(NUMBERS.map((id) => publish(e, projectId, said(id, n))));
}

function open(e: typeof env, projectId: string, lastEventId?: string) {
  const abort = new AbortController();
  return openEventStream(e, projectId, { lastEventId }, abort.signal).then((res) => ({ ...readFrames(res), abort }));
}

const bodiesOf = (frames: Frame[]) => frames.filter((f) => f.event === "message.received").map((f) => f.data.payload.body as string);

/** Each number's events in the order the stream gave them: must count up from its first. */
function expectEachNumberInOrder(frames: Frame[]) {
  const last = new Map<string, number>();
  for (const body of bodiesOf(frames)) {
    const [id, n] = body.split(" ");
    if (last.has(id!)) expect(Number(n), `${id} after ${last.get(id!)}`).toBe(last.get(id!)! + 1);
    last.set(id!, Number(n));
  }
}

const eventsIn = (projectId: string, shard: number) =>
  runInDurableObject(hubOf(env, projectId, shard), (_hub, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events").one().n);

describe("a project's events over several hubs", () => {
  it("keeps each number's events in one hub, and GET /events carries every hub's, each number's in order, with an id naming each hub's position", async () => {
    const { id: projectId } = await newProject();
    const sse = await open(SHARDED, projectId);
    await publishRounds(SHARDED, projectId, 0, 3);
    const frames = await sse.until(NUMBERS.length * 3);
    expect(new Set(frames.map((f) => f.data.id)).size).toBe(NUMBERS.length * 3);
    expectEachNumberInOrder(frames);
    expect(frames.every((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f.id!))).toBe(true);
    // Every hub took its three numbers' events, and only those.
    for (let shard = 0; shard < SHARDS; shard++) expect(await eventsIn(projectId, shard)).toBe(9);
    // The last id is every hub's newest seq.
    expect(frames.at(-1)!.id).toBe("9.9.9.9");
    sse.abort.abort();
  });

  it("resumes exactly across hubs from an id taken before a reconnect: nothing lost, nothing repeated, each number's order kept", async () => {
    const { id: projectId } = await newProject();
    const first = await open(SHARDED, projectId);
    await publishRounds(SHARDED, projectId, 0, 2);
    const seen = await first.until(NUMBERS.length * 2);
    for (let shard = 0; shard < SHARDS; shard++) expect(await eventsIn(projectId, shard)).toBe(6);
    // The client dropped after taking half: it resumes from the id of the last frame it took.
    const taken = seen.slice(0, NUMBERS.length);
    const missedBefore = seen.slice(NUMBERS.length).map((f) => f.data.id);
    await first.close();

    await publishRounds(SHARDED, projectId, 2, 2);
    const resumed = await open(SHARDED, projectId, taken.at(-1)!.id);
    const replayed = (await resumed.until(NUMBERS.length * 3)).length;
    await publishRounds(SHARDED, projectId, 4, 1);
    const frames = await resumed.until(NUMBERS.length * 4);
    const ids = frames.map((f) => f.data.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => taken.some((f) => f.data.id === id))).toEqual([]);
    expect(ids).toEqual(expect.arrayContaining(missedBefore));
    expect(replayed).toBe(NUMBERS.length * 3);
    expectEachNumberInOrder([...taken, ...frames]);
    await waitFor(() => frames.length === NUMBERS.length * 4, 1_000, "no more frames");
    expect(frames).toHaveLength(NUMBERS.length * 4);
    resumed.abort.abort();
  });

  it("resumes a plain id from before the events were sharded: the first hub from it, the others from their start", async () => {
    const { id: projectId } = await newProject();
    // One hub: plain ids.
    const before = await open(env, projectId);
    await publish(env, projectId, said("inst-a", 0), said("inst-a", 1), said("inst-a", 2));
    const old = await before.until(3);
    expect(old.map((f) => f.id)).toEqual(["1", "2", "3"]);
    await before.close();
    // The setting rose; more events, over every hub.
    await publishRounds(SHARDED, projectId, 0, 1);
    const resumed = await open(SHARDED, projectId, "1");
    const frames = await resumed.until(2 + NUMBERS.length);
    // Hub 0 holds the three from before and its own numbers' three.
    expect(frames.at(-1)!.id).toBe("6.3.3.3");
    expect(bodiesOf(frames).filter((b) => b.startsWith("inst-a "))).toEqual(["inst-a 1", "inst-a 2"]);
    expect(new Set(frames.map((f) => f.data.id)).size).toBe(2 + NUMBERS.length);
    resumed.abort.abort();
  });

  it("says which hub lost events past retention with a gap frame, then replays what every hub has left", async () => {
    const { id: projectId } = await newProject();
    await publishRounds(SHARDED, projectId, 0, 2);
    // Hub 2's first round ages past the 72-hour retention, and its alarm trims it.
    const hub2 = hubOf(env, projectId, 2);
    await runInDurableObject(hub2, (_hub, state) => {
      state.storage.sql.exec("UPDATE events SET created_at = ? WHERE seq <= 3", Date.now() - 73 * 3_600_000);
    });
    await runDurableObjectAlarm(hub2);
    const sse = await open(SHARDED, projectId, "0.0.0.0");
    const frames = await sse.until(1 + NUMBERS.length * 2 - 3);
    expect(frames.filter((f) => f.event === "gap")).toEqual([{ id: undefined, event: "gap", data: { last_event_id: "0.0.0.0", shard: 2, resumed_after: 3 } }]);
    expect(bodiesOf(frames)).toHaveLength(NUMBERS.length * 2 - 3);
    expectEachNumberInOrder(frames);
    sse.abort.abort();
  });

  it("forgets the client on every hub when it leaves", async () => {
    const { id: projectId } = await newProject();
    const sse = await open(SHARDED, projectId);
    await publishRounds(SHARDED, projectId, 0, 1);
    await sse.until(NUMBERS.length);
    for (let shard = 0; shard < SHARDS; shard++) expect(await eventsIn(projectId, shard)).toBe(3);
    const listeners = () => Promise.all(Array.from({ length: SHARDS }, (_, k) => hubOf(env, projectId, k).listenerCount()));
    expect(await listeners()).toEqual([1, 1, 1, 1]);
    await sse.close();
    await waitFor(async () => (await listeners()).every((n) => n === 0), 3_000, "every hub forgot the listener");
  });

  it("takes a dotted id on the route, and refuses a malformed one naming the field", async () => {
    const { api_key: key } = await newProject();
    const dotted = await exports.default.fetch(
      new Request("http://pombo.test/events?last_event_id=0.0.0.0", { headers: { authorization: `Bearer ${key}` } }),
    );
    expect(dotted.status).toBe(200);
    await dotted.body!.cancel();
    const bad = await call("/events?last_event_id=1..2", { token: key });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("last_event_id");
    const header = await call("/events", { token: key, headers: { "last-event-id": "3.x" } });
    expect(header.json.error.details.field).toBe("last-event-id");
  });
});

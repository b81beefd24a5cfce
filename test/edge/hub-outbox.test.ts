/**
 * The event hub's outbox (objects/hub.ts): deliveries that left for the
 * queue are deleted with the hub's next write (the next publish), or on
 * their own when none comes, and a hub that stops before that sends them
 * again without anyone getting an event twice. In workerd, with the real
 * Durable Object, D1 and queue.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { EventHub } from "../../edge/objects/hub.ts";
import { hubOf } from "../../edge/objects/stubs.ts";
import { publish } from "../../edge/services/events.ts";
import { disconnectedEvent } from "./event-fixtures.ts";
import { call, newProject, waitFor } from "./helpers.ts";

/** A project with one endpoint at http://hooks.test/<name>. */
async function withEndpoint(name: string) {
  const { id, api_key: key } = await newProject();
  const hook = (await call("/webhooks", { method: "POST", token: key, body: { url: `http://hooks.test/${name}` } })).json;
  return { projectId: id as string, key: key as string, hookId: hook.id as string };
}

/** The outbox rows of these events (all of them without), read from the hub's storage. */
const outboxRows = (projectId: string, eventIds?: string[]) =>
  runInDurableObject(hubOf(env, projectId), (_hub, state) => {
    const rows = state.storage.sql.exec<{ event_id: string }>("SELECT event_id FROM outbox").toArray();
    return rows.filter((r) => !eventIds || eventIds.includes(r.event_id)).length;
  });

const deliveriesOf = (eventIds: string[]) =>
  env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(eventIds))
    .first<number>("n");

/** Every delivery in the outbox has left: what is there is done, waiting for a write to be deleted with. */
const nothingWaits = ({ rows, done }: { rows: number; done: number }) => rows === done;

const hitsOf = async (name: string) => (await (await fetch(`http://hooks.test/__log/${name}`)).json()) as { headers: Record<string, string> }[];

describe("the event hub's outbox", () => {
  it("keeps a burst's deliveries that left until the next publish, whose write deletes them: no storage commit of their own", async () => {
    const { projectId } = await withEndpoint("burst");
    const burst = (await Promise.all(Array.from({ length: 10 }, (_, i) => publish(env, projectId, disconnectedEvent(`inst-${i}`))))).flat();
    const ids = burst.map((e) => e.id);
    // All ten left (jobs queued, rows in D1 from their first attempts). The burst's own publishes deleted the rows of the hand-overs before them;
    // those of the last wait in the outbox, done, for a write to ride on.
    const left = async () => (await deliveriesOf(ids)) === 10 && nothingWaits(await hubOf(env, projectId).outboxSize());
    await waitFor(left, 3_000, "the burst to leave");
    expect(await outboxRows(projectId, ids)).toBeGreaterThan(0);

    await publish(env, projectId, disconnectedEvent("inst-next"));
    expect(await outboxRows(projectId, ids)).toBe(0);
    // What is left is the newest event's own delivery, at most.
    expect(await outboxRows(projectId)).toBeLessThanOrEqual(1);
  });

  it("deletes them on its own within seconds when no publish follows, so an idle hub keeps none", async () => {
    const { projectId } = await withEndpoint("idle");
    const [event] = await publish(env, projectId, disconnectedEvent("inst-1"));
    await waitFor(async () => (await hubOf(env, projectId).outboxSize()).done === 1, 3_000, "the delivery to leave");
    // Its row is D1's from its first attempt (the job carried it).
    await waitFor(async () => (await deliveriesOf([event!.id])) === 1, 3_000, "the delivery's first attempt");
    // No publish and no alarm follow: the row goes with no write to ride on.
    await waitFor(async () => (await outboxRows(projectId)) === 0, 6_000, "the done row to be deleted without a later write");
    expect(await hubOf(env, projectId).outboxSize()).toEqual({ rows: 0, done: 0 });
  });

  it("does not send again, from its alarm, deliveries that left and wait for a write to be deleted", async () => {
    const { projectId } = await withEndpoint("alarm-skips-done");
    const [event] = await publish(env, projectId, disconnectedEvent("inst-1"));
    const stub = hubOf(env, projectId);
    await waitFor(async () => (await stub.outboxSize()).done === 1, 3_000, "the delivery to leave");
    // The alarm comes while the row waits (aged past the resend delay): it must leave it alone.
    const sent: unknown[] = [];
    await runInDurableObject(stub, (hub: EventHub, state) => {
      const queue = env.WEBHOOKS;
      (hub as unknown as { env: typeof env }).env = {
        ...env,
        WEBHOOKS: { send: queue.send.bind(queue), sendBatch: (msgs: unknown[]) => (sent.push(...msgs), queue.sendBatch(msgs as never)) } as Queue,
      };
      state.storage.sql.exec("UPDATE outbox SET created_at = created_at - 60000");
    });
    await runDurableObjectAlarm(stub);
    expect(sent).toEqual([]);
    expect(await outboxRows(projectId, [event!.id])).toBe(0);
  });

  it("a hub that stops with delivered rows still in its outbox sends them again, and the endpoint still gets the event once: the consumer skips a delivery already delivered", async () => {
    const { projectId, key, hookId } = await withEndpoint("stopped-hub");
    const [event] = await publish(env, projectId, disconnectedEvent("inst-1"));
    const stub = hubOf(env, projectId);
    const statusOf = async () =>
      ((await call(`/webhooks/${hookId}/deliveries`, { token: key })).json.data as { event_id: string; status: string; attempts: number }[]).find(
        (d) => d.event_id === event!.id,
      );
    await waitFor(async () => (await stub.outboxSize()).done === 1, 3_000, "the delivery to leave");
    await waitFor(async () => (await statusOf())?.status === "delivered", 3_000, "the delivery to be delivered");

    // The object stops before a write or its linger deletes the row (an eviction, a crash, a deploy): the one that
    // starts on its storage has nothing of the old one's memory. Its alarm finds the row (aged past the resend delay).
    const sent: { body: { delivery_id: string } }[] = [];
    const left = await runInDurableObject(stub, async (hub: EventHub, state) => {
      const queue = env.WEBHOOKS;
      const counting = { send: queue.send.bind(queue), sendBatch: (msgs: never[]) => (sent.push(...msgs), queue.sendBatch(msgs)) } as Queue;
      const fresh = new (hub.constructor as new (ctx: DurableObjectState, e: typeof env) => EventHub)(state, { ...env, WEBHOOKS: counting });
      const before = state.storage.sql.exec("UPDATE outbox SET created_at = created_at - 60000 RETURNING delivery_id").toArray().length;
      await fresh.alarm();
      return { before, after: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n };
    });
    expect(left).toEqual({ before: 1, after: 0 });
    // Sent again: D1 already has its delivery (one per webhook and event), and a job for it is queued once more.
    expect(sent).toHaveLength(1);

    // A later event to the same endpoint, delivered: the queue has taken the repeated job before it, and skipped it.
    const [marker] = await publish(env, projectId, disconnectedEvent("inst-2"));
    await waitFor(async () => (await hitsOf("stopped-hub")).length >= 2, 5_000, "the later event");
    expect((await hitsOf("stopped-hub")).map((h) => h.headers["webhook-id"])).toEqual([event!.id, marker!.id]);
    expect(await statusOf()).toMatchObject({ status: "delivered", attempts: 1 });
    expect(await deliveriesOf([event!.id])).toBe(1);
  }, 20_000);
});

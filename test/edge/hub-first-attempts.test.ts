/**
 * A delivery's first attempt, made by the event hub itself
 * (objects/hub-deliveries.ts): no queue message and no D1 read between an
 * event and its endpoint; the queue for retries, for endpoints failing, and
 * past the hub's cap. In workerd, with the real Durable Object, D1, queue
 * and consumer; endpoints are the recording receiver of vitest.config.ts.
 */
import { createMessageBatch, env, getQueueResult, createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { EventHub } from "../../edge/objects/hub.ts";
import { hubOf } from "../../edge/objects/stubs.ts";
import type { DeliveryJob } from "../../edge/services/delivery-jobs.ts";
import { publish } from "../../edge/services/events.ts";
import { handleQueueBatch } from "../../edge/services/webhook-delivery.ts";
import { disconnectedEvent, receivedEvent } from "./event-fixtures.ts";
import { call, countingD1, newProject, waitFor } from "./helpers.ts";

type Hit = { headers: Record<string, string>; body: string };
type Sent = MessageSendRequest<DeliveryJob>;

const SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => (i * 5 + 1) % 256)))}`;
const hitsOf = async (name: string): Promise<Hit[]> => (await fetch(`http://hooks.test/__log/${name}`)).json();
const answerWith = (name: string, status: number) => fetch(`http://hooks.test/__status/${name}`, { method: "PUT", body: String(status) });
const deliveriesOf = async (key: string, hookId: string) => (await call(`/webhooks/${hookId}/deliveries?limit=100`, { token: key })).json.data as any[];

/** A project with one endpoint (answering `status`) that its hub has read: a first event delivered. */
async function withEndpoint(label: string, status = 200) {
  const { id: projectId, api_key: key } = await newProject();
  const name = `${label}-${crypto.randomUUID().slice(0, 8)}`;
  const hook = (await call("/webhooks", { method: "POST", token: key, body: { url: `http://hooks.test/${name}`, secret: SECRET } })).json;
  await publish(env, projectId, disconnectedEvent("i-0"));
  await waitFor(async () => (await deliveriesOf(key, hook.id)).length === 1, 5_000, "the first event's delivery logged");
  if (status !== 200) await answerWith(name, status);
  return { projectId: projectId as string, key: key as string, name, hookId: hook.id as string };
}

/** Swaps the live hub's bindings for counting ones: what it sends to the queue, and its D1 round trips (statements in each). */
async function watchHub(projectId: string) {
  const sent: Sent[] = [];
  const trips: number[] = [];
  await runInDurableObject(hubOf(env, projectId), (hub: EventHub) => {
    const queue = env.WEBHOOKS;
    const WEBHOOKS = { send: queue.send.bind(queue), sendBatch: (msgs: Sent[]) => (sent.push(...msgs), queue.sendBatch(msgs)) } as Queue;
    (hub as unknown as { env: typeof env }).env = { ...env, WEBHOOKS, DB: countingD1(env.DB, (n) => trips.push(n)) };
  });
  return { sent, trips };
}

const nothingWaits = (projectId: string) => async () => {
  const { rows, done } = await hubOf(env, projectId).outboxSize();
  return rows === done;
};

describe("the hub's first attempts", () => {
  it("posts a delivery from the hub: no queue message, no D1 read; one D1 round trip records it, signed as ever", async () => {
    const { projectId, key, name, hookId } = await withEndpoint("direct");
    const hub = await watchHub(projectId);
    const [event] = await publish(env, projectId, receivedEvent("straight to you"));
    await waitFor(async () => (await deliveriesOf(key, hookId)).length === 2, 5_000, "the delivery logged");
    const [, hit] = await hitsOf(name);
    expect(hit!.headers["webhook-id"]).toBe(event!.id);
    expect(new Webhook(SECRET).verify(hit!.body, hit!.headers)).toEqual(event);
    expect(hub.sent).toEqual([]);
    // One batch: the row made, the attempt logged, its state, the endpoint's health, the counts.
    expect(hub.trips).toEqual([5]);
    const [delivery] = await deliveriesOf(key, hookId);
    expect(delivery).toMatchObject({ event_id: event!.id, status: "delivered", attempts: 1, last_status_code: 200 });
    expect(delivery.history.map((a: { attempt: number }) => a.attempt)).toEqual([1]);
    await waitFor(nothingWaits(projectId), 3_000, "the outbox row done");
  });

  it("records the attempts that come back close together in one D1 round trip: three events published one after another, one write", async () => {
    const { projectId, key, name, hookId } = await withEndpoint("together");
    const hub = await watchHub(projectId);
    for (const text of ["one", "two", "three"]) await publish(env, projectId, receivedEvent(text));
    await waitFor(async () => (await deliveriesOf(key, hookId)).length === 4, 5_000, "the three logged");
    expect((await hitsOf(name)).length).toBe(4);
    expect(hub.trips).toEqual([5]);
    expect(hub.sent).toEqual([]);
  });

  it("a failed first attempt is logged as attempt 1 and its retry queued by id, held back as the first retry; the consumer goes on from the second", async () => {
    const { projectId, key, name, hookId } = await withEndpoint("fails-once", 503);
    const hub = await watchHub(projectId);
    const [event] = await publish(env, projectId, receivedEvent("are you up?"));
    await waitFor(async () => hub.sent.length === 1, 5_000, "the retry queued");
    const [retry] = hub.sent;
    const deliveryId = retry!.body.delivery_id;
    expect(retry!.body).toEqual({ delivery_id: deliveryId, project_id: projectId, tried: 1 });
    // The schedule's first retry: the base (1 s in these tests; 10 s by default), jittered to between half and all of it.
    expect(retry!.delaySeconds).toBe(1);
    const [logged] = await deliveriesOf(key, hookId);
    expect(logged).toMatchObject({ id: deliveryId, event_id: event!.id, status: "retrying", attempts: 1, last_status_code: 503 });
    expect((await call(`/webhooks/${hookId}`, { token: key })).json.failing_since).toEqual(expect.any(String));

    // The queue hands the retry over (its first attempt of it): still failing, it waits as the second retry does,
    // which the delivery log shows. With a base of 100 s: the first retry waits 50-100 s, the second 100-200 s.
    const batch = createMessageBatch<DeliveryJob>("pombo-webhooks", [{ id: "m-retry", timestamp: new Date(), attempts: 1, body: retry!.body }]);
    const ctx = createExecutionContext();
    const before = Date.now();
    await handleQueueBatch(batch, { ...env, POMBO_WEBHOOK_RETRY_BASE_S: "100" });
    expect((await getQueueResult(batch, ctx)).retryMessages).toHaveLength(1);
    const [second] = await deliveriesOf(key, hookId);
    expect(second).toMatchObject({ status: "retrying", attempts: 2 });
    const waits = (Date.parse(second.next_attempt_at) - before) / 1000;
    expect(waits).toBeGreaterThan(100);
    expect(waits).toBeLessThanOrEqual(201);

    await answerWith(name, 200);
    await handleQueueBatch(createMessageBatch<DeliveryJob>("pombo-webhooks", [{ id: "m-retry", timestamp: new Date(), attempts: 2, body: retry!.body }]), env);
    const [delivered] = await deliveriesOf(key, hookId);
    expect(delivered).toMatchObject({ id: deliveryId, status: "delivered", attempts: 3 });
    expect(delivered.history.map((a: { status_code: number }) => a.status_code)).toEqual([503, 503, 200]);
    expect(new Set((await hitsOf(name)).slice(1).map((h) => h.headers["webhook-id"]))).toEqual(new Set([event!.id]));
  });

  it("an endpoint failing sends its next deliveries through the queue, whose backoff spares it: failing in D1, or failed here just now", async () => {
    const { projectId, key, name, hookId } = await withEndpoint("down", 503);
    const hub = await watchHub(projectId);
    await publish(env, projectId, receivedEvent("first"));
    await waitFor(async () => hub.sent.length === 1, 5_000, "the first retry queued");
    const hits = (await hitsOf(name)).length;
    // The next event is not tried here: its job carries it to the queue, which tries it.
    const [next] = await publish(env, projectId, receivedEvent("second"));
    await waitFor(async () => hub.sent.length === 2, 5_000, "the second event queued");
    expect(hub.sent[1]!.body).toMatchObject({ project_id: projectId, delivery: { event_id: next!.id, webhook_id: hookId } });
    expect(hub.sent[1]!.delaySeconds).toBeUndefined();
    await waitFor(async () => (await deliveriesOf(key, hookId)).some((d) => d.event_id === next!.id), 5_000, "the queue's attempt logged");
    expect((await hitsOf(name)).length).toBe(hits + 1);

    // A hub that has just read the endpoint (a new object) knows it is failing from D1.
    const fresh = await runInDurableObject(hubOf(env, projectId), (hub: EventHub) => (hub as unknown as { env: typeof env }).env);
    await runInDurableObject(hubOf(env, projectId), async (hub: EventHub) => {
      await hub.invalidate();
      (hub as unknown as { env: typeof env }).env = fresh;
    });
    const before = hub.sent.length;
    await publish(env, projectId, receivedEvent("third"));
    await waitFor(async () => hub.sent.length === before + 1, 5_000, "the third event queued");
    expect(hub.sent.at(-1)!.body.delivery).toBeDefined();
  });

  it("past six attempts out at once, the rest of a burst goes through the queue; every event reaches the endpoint once", async () => {
    const { projectId, name } = await withEndpoint("burst");
    const hub = await watchHub(projectId);
    const events = Array.from({ length: 10 }, (_, i) => ({ ...disconnectedEvent(`i-${i + 1}`) }));
    // One publish of ten: ten deliveries start together.
    const published = await publish(env, projectId, ...events);
    expect(published).toHaveLength(10);
    await waitFor(async () => (await hitsOf(name)).length === 11, 8_000, "all ten");
    expect(hub.sent.map((m) => m.body.delivery?.event_id)).toEqual(published.slice(6).map((e) => e.id));
    const ids = (await hitsOf(name)).slice(1).map((h) => h.headers["webhook-id"]);
    expect(ids.sort()).toEqual(published.map((e) => e.id).sort());
    await waitFor(nothingWaits(projectId), 3_000, "the outbox rows done");
  });

  it("an attempt whose record D1 refuses stays in the outbox; the alarm queues it and the endpoint gets it again with the same webhook-id, logged once", async () => {
    const { projectId, key, name, hookId } = await withEndpoint("unrecorded");
    let refused = 0;
    await runInDurableObject(hubOf(env, projectId), (hub: EventHub) => {
      const refusing = new Proxy(env.DB, {
        get: (target, prop) =>
          prop === "batch" ? () => (refused++, Promise.reject(new Error("D1 down"))) : (Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop)),
      });
      (hub as unknown as { env: typeof env }).env = { ...env, DB: refusing };
    });
    const [event] = await publish(env, projectId, receivedEvent("twice, by design"));
    await waitFor(async () => (await hitsOf(name)).length === 2, 5_000, "the first attempt");
    await waitFor(async () => refused > 0, 3_000, "the record refused");
    const stub = hubOf(env, projectId);
    await waitFor(async () => (await stub.outboxSize()).rows === 1 && (await stub.outboxSize()).done === 0, 3_000, "the row kept");
    expect(await deliveriesOf(key, hookId)).toHaveLength(1);

    await runInDurableObject(stub, (hub: EventHub, state) => {
      (hub as unknown as { env: typeof env }).env = env;
      state.storage.sql.exec("UPDATE outbox SET created_at = created_at - 60000");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitFor(async () => (await hitsOf(name)).length === 3, 5_000, "the attempt again");
    expect((await hitsOf(name)).slice(1).map((h) => h.headers["webhook-id"])).toEqual([event!.id, event!.id]);
    await waitFor(async () => (await deliveriesOf(key, hookId)).length === 2, 3_000, "the delivery logged");
    expect((await deliveriesOf(key, hookId))[0]).toMatchObject({ event_id: event!.id, status: "delivered", attempts: 1 });
  });
});

/**
 * Delivers webhooks: each delivery's first attempt, made by the event hub
 * (objects/hub-deliveries.ts, through `attemptFirst` and
 * `settleFirstAttempts` here), and the consumer of `pombo-webhooks` and of
 * its dead-letter queue `pombo-webhooks-dlq` (one handler, told apart by
 * `batch.queue`) for the rest: retries, and deliveries the hub queued
 * instead of trying them (services/delivery-jobs.ts).
 *
 * Each message names one delivery, and usually carries it (delivery-jobs.ts):
 * its row in D1 is then made by the batch that records its first attempt
 * (or gives it up), and from then on the row is the truth, whatever the
 * message carries. Each batch reads D1 once (every job's endpoint as it is
 * now, so a disabled or deleted endpoint gets nothing and a rotated secret
 * signs, and any row already there, so what is delivered or dead is not
 * sent again) and writes it once. The hub's first attempts go to the
 * endpoint as the hub knows it (read again whenever it changes, and every
 * 30 s), and are recorded the same way, several in one write. Each attempt
 * is a POST of the stored event, signed (webhook-post.ts); `webhook-id` is
 * the event id, the same on every retry and replay, so receivers can drop
 * repeats. A 2xx answer delivers it; any other answer, a timeout or a
 * refused connection is retried by the queue with exponential backoff and
 * jitter, and after the last retry the message lands in the dead-letter
 * queue, which marks the delivery dead and turns off an endpoint that has
 * been failing for days.
 *
 * The schedule (wrangler.toml: max_retries = 16, so 17 attempts from the
 * queue, after the hub's first one when it made it): retry n waits
 * base * 2^(n-1) seconds, capped at 43,200 s (12 h, Queues' largest delay),
 * times a random factor in [0.5, 1]; a job the hub queued after its attempt
 * says so (`tried`), so the queue goes on at retry 2. With the default base
 * of 10 s the ceilings sum to 10 * (2^13 - 1) = 81,910 s for retries 1-13
 * plus 3 * 43,200 = 129,600 s for retries 14-16: 211,510 s, about 58.8 h
 * (a 17th after the hub's attempt adds 12 h: 70.8 h). The jitter can halve
 * that, so the last attempt comes between 29.4 h and 58.8 h after the first
 * (35.4 h and 70.8 h): at least 24 h, and within Queues' default 4-day
 * message retention.
 *
 * POMBO_WEBHOOK_RETRY_MAX_S lowers the 12 h cap: after an endpoint comes back,
 * the next attempt is at most that far away. It shortens the whole window too
 * (16 retries of at most the cap each), so keep 8 x cap (the jittered floor)
 * above the longest outage the endpoints must ride out.
 *
 * Owner of a delivery's status and attempts (`webhook_deliveries`,
 * `webhook_attempts`) and of an endpoint's health, and the writer of the
 * rows of deliveries, at their first attempt. The event hub
 * (objects/hub-deliveries.ts) writes, pending, only those too big to carry
 * that it queues; a replay (webhooks.ts) makes one pending again.
 */
import { type Db, db } from "../db/client.ts";
import { type AttemptRecord, type CarriedRow, type DeliveryJobRow, type Endpoint, deliveriesForJobs, markDead, recordAttempts } from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { publish } from "./events.ts";
import { countDeliveries } from "./metrics.ts";
import { disableFailingWebhook } from "./webhooks.ts";
import { type DeliveryJob, sendJobs } from "./delivery-jobs.ts";
import { type Answer, post } from "./webhook-post.ts";

export type { DeliveryJob };

const MAX_DELAY_S = 43_200;
const DEFAULT_BASE_S = 10;
const DEFAULT_DISABLE_AFTER_H = 72;

const numberVar = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return value !== undefined && value.trim() !== "" && Number.isFinite(n) && n >= 0 ? n : fallback;
};

/**
 * Seconds before retry `attempt` (1 = after the first failure): see the
 * schedule above. `maxS` caps each delay (never past Queues' 12 h).
 */
export function retryDelaySeconds(attempt: number, baseS: number, random = Math.random(), maxS = MAX_DELAY_S): number {
  const cap = Math.min(MAX_DELAY_S, Math.max(1, maxS));
  const ceiling = Math.min(cap, baseS * 2 ** Math.max(0, attempt - 1));
  return Math.min(cap, Math.ceil(ceiling * (0.5 + random / 2)));
}

/** A job's delivery: its row, or the one it carries (`carried`, to write with its first record). */
type Target = DeliveryJobRow & { carried?: CarriedRow };

/** The batch's deliveries, by id, in one read: each job's endpoint now, and its row if it has one. */
async function targetsOf(d1: Db, messages: readonly Message<DeliveryJob>[]): Promise<Map<string, Target>> {
  const found = await deliveriesForJobs(
    d1,
    messages.map(({ body: { delivery_id: id, project_id, delivery } }) => ({ id, project_id, webhook_id: delivery?.webhook_id, event_id: delivery?.event_id })),
  );
  const targets = new Map<string, Target>();
  for (const { body: job } of messages) {
    const { webhook, delivery: stored } = found.get(job.delivery_id) ?? {};
    if (!webhook) continue;
    if (stored) targets.set(job.delivery_id, { ...stored, webhook });
    else if (job.delivery) {
      // No row yet: the job carries it (only such a job finds its endpoint without one).
      const carried = { id: job.delivery_id, project_id: job.project_id, ...job.delivery };
      targets.set(job.delivery_id, { ...carried, status: "pending", attempts: 0, webhook, carried });
    }
  }
  return targets;
}

/** The target of this message, if it is its own (not another project's, nor a second delivery of the same event to the endpoint). */
function targetOf(targets: Map<string, Target>, { delivery_id, project_id }: DeliveryJob): Target | undefined {
  const target = targets.get(delivery_id);
  return target && target.id === delivery_id && target.project_id === project_id ? target : undefined;
}

export async function handleQueueBatch(batch: MessageBatch<DeliveryJob>, env: Env): Promise<void> {
  if (batch.queue.endsWith("-dlq")) return deadLetters(batch, env);
  const d1 = db(env.DB);
  const targets = await targetsOf(d1, batch.messages);
  // Queues delivers at least once: a delivery named twice in one batch is tried once.
  const tried = new Set<string>();
  const outcomes = await Promise.all(
    batch.messages.map((message) => {
      const first = !tried.has(message.body.delivery_id);
      tried.add(message.body.delivery_id);
      return attempt(env, message, first ? targetOf(targets, message.body) : undefined);
    }),
  );
  // One round trip for the whole batch's log, with the deliveries of endpoints turned off, creating the rows of those carried; if it fails, the batch is retried (same webhook-ids).
  await recordAttempts(
    d1,
    outcomes.flatMap((o) => (o.record ? [o.record] : [])),
    countDeliveries,
    { ids: outcomes.flatMap((o) => (o.gone ? [o.gone] : [])), reason: "webhook disabled" },
    outcomes.flatMap((o) => (o.create ? [o.create] : [])),
  );
  for (const { message, retryIn } of outcomes) {
    if (retryIn === undefined) message.ack();
    else message.retry({ delaySeconds: retryIn });
  }
}

type Outcome = { message: Message<DeliveryJob>; record?: AttemptRecord; retryIn?: number; gone?: string; create?: CarriedRow };

async function attempt(env: Env, message: Message<DeliveryJob>, row: Target | undefined): Promise<Outcome> {
  // Deleted with its webhook, named for another project, or tried by another message: nothing to do.
  if (!row) return { message };
  if (row.status === "delivered" || row.status === "dead") return { message };
  if (!row.webhook.enabled) return { message, gone: row.id, create: row.carried };
  const started = Date.now();
  const answer = await post(env, row);
  // The queue counts its own attempts; one the hub made before it (`tried`) moves the schedule on.
  const retryIn = answer.ok ? undefined : retryAfter(env, message.attempts + (message.body.tried ?? 0));
  return { message, retryIn, create: row.carried, record: recordOf(row.id, row.webhook.id, row.attempts + 1, answer, started, retryIn) };
}

/** Seconds before retry `n` (1 = after the first failure), on the operator's schedule. */
function retryAfter(env: Env, n: number): number {
  const base = numberVar(env.POMBO_WEBHOOK_RETRY_BASE_S, DEFAULT_BASE_S);
  return retryDelaySeconds(n, base, Math.random(), numberVar(env.POMBO_WEBHOOK_RETRY_MAX_S, MAX_DELAY_S));
}

function recordOf(deliveryId: string, webhookId: string, n: number, answer: Answer, started: number, retryIn: number | undefined): AttemptRecord {
  return {
    delivery_id: deliveryId,
    webhook_id: webhookId,
    attempt: n,
    ok: answer.ok,
    status_code: answer.status,
    error: answer.error,
    response_body: answer.body,
    duration_ms: Date.now() - started,
    next_attempt_at: retryIn === undefined ? null : new Date(Date.now() + retryIn * 1000).toISOString(),
  };
}

/** A delivery's first attempt, made by the event hub (objects/hub-deliveries.ts): its row, still to create, and what came of it. */
export type FirstAttempt = { delivery: CarriedRow; record: AttemptRecord; retryIn?: number };

/** Posts a delivery just published, to its endpoint as the hub knows it; `settleFirstAttempts` records it. */
export async function attemptFirst(env: Env, delivery: CarriedRow, webhook: Endpoint): Promise<FirstAttempt> {
  const started = Date.now();
  const answer = await post(env, { event_id: delivery.event_id, body: delivery.body, webhook });
  const retryIn = answer.ok ? undefined : retryAfter(env, 1);
  return { delivery, retryIn, record: recordOf(delivery.id, webhook.id, 1, answer, started, retryIn) };
}

/**
 * First attempts' records, as the consumer writes a batch's (one round trip,
 * creating the rows), then the failed ones' retries on the queue, by id
 * (their rows exist now), delayed as the schedule's first retry. Throws if
 * either fails: the hub then leaves them to its alarm, which queues them as
 * before the hub made attempts (the consumer finds what was recorded).
 */
export async function settleFirstAttempts(env: Env, attempts: FirstAttempt[]): Promise<void> {
  if (attempts.length === 0) return;
  const records = attempts.map((a) => a.record);
  await recordAttempts(db(env.DB), records, countDeliveries, undefined, attempts.map((a) => a.delivery));
  const retries = attempts.flatMap(({ delivery: { id, project_id }, retryIn }) =>
    retryIn === undefined ? [] : [{ job: { delivery_id: id, project_id, tried: 1 }, delaySeconds: retryIn }],
  );
  await sendJobs(env.WEBHOOKS, retries);
}

/**
 * Dead letters: deliveries that used up their retries. Each is marked dead
 * (a replay can still send it); an endpoint failing for longer than
 * POMBO_WEBHOOK_DISABLE_AFTER_H is turned off, and the project hears of it
 * through a `webhook.disabled` event.
 */
async function deadLetters(batch: MessageBatch<DeliveryJob>, env: Env): Promise<void> {
  const d1 = db(env.DB);
  const targets = await targetsOf(d1, batch.messages);
  const mine = new Map<string, Target>();
  for (const { body } of batch.messages) {
    const target = targetOf(targets, body);
    if (target) mine.set(target.id, target);
  }
  const rows = [...mine.values()];
  await markDead(
    d1,
    rows.map((row) => row.id),
    undefined,
    countDeliveries,
    rows.flatMap((row) => (row.carried ? [row.carried] : [])),
  );
  const disableAfterMs = numberVar(env.POMBO_WEBHOOK_DISABLE_AFTER_H, DEFAULT_DISABLE_AFTER_H) * 3_600_000;
  const endpoints = new Map(rows.map((row) => [row.webhook.id, row]));
  for (const row of endpoints.values()) {
    const since = row.webhook.failing_since ? Date.parse(row.webhook.failing_since) : NaN;
    if (!row.webhook.enabled || !(Date.now() - since > disableAfterMs)) continue;
    const hours = Math.floor((Date.now() - since) / 3_600_000);
    const reason = `failing since ${row.webhook.failing_since} (${hours} h without a successful delivery)`;
    if (await disableFailingWebhook(env, row.project_id, row.webhook.id, reason)) {
      await publish(env, row.project_id, {
        type: "webhook.disabled",
        instance_id: null,
        payload: { webhook_id: row.webhook.id, url: row.webhook.url, reason },
      });
    }
  }
  batch.ackAll();
}

/**
 * Delivers webhooks: the consumer of `pombo-webhooks` and of its dead-letter
 * queue `pombo-webhooks-dlq` (one handler, told apart by `batch.queue`).
 *
 * Each message names one delivery, and usually carries it (delivery-jobs.ts):
 * its row in D1 is then made by the batch that records its first attempt
 * (or gives it up), and from then on the row is the truth, whatever the
 * message carries. Each batch reads D1 once (every job's endpoint as it is
 * now, so a disabled or deleted endpoint gets nothing and a rotated secret
 * signs, and any row already there, so what is delivered or dead is not
 * sent again) and writes it once. The body is the stored event with
 * its media links signed afresh, signed per Standard Webhooks with the
 * endpoint's secret; `webhook-id` is the event id, the same on every retry
 * and replay, so receivers can drop repeats. A 2xx answer delivers it; any
 * other answer, a timeout or a refused connection is retried by the queue
 * with exponential backoff and jitter, and after the last retry the message
 * lands in the dead-letter queue, which marks the delivery dead and turns
 * off an endpoint that has been failing for days.
 *
 * The schedule (wrangler.toml: max_retries = 16, so 17 attempts): retry n
 * waits base * 2^(n-1) seconds, capped at 43,200 s (12 h, Queues' largest
 * delay), times a random factor in [0.5, 1]. With the default base of 10 s
 * the ceilings sum to 10 * (2^13 - 1) = 81,910 s for retries 1-13 plus
 * 3 * 43,200 = 129,600 s for retries 14-16: 211,510 s, about 58.8 h. The
 * jitter can halve that, so the last attempt comes between 29.4 h and
 * 58.8 h after the first: at least 24 h, and within Queues' default
 * 4-day message retention.
 *
 * POMBO_WEBHOOK_RETRY_MAX_S lowers the 12 h cap: after an endpoint comes back,
 * the next attempt is at most that far away. It shortens the whole window too
 * (16 retries of at most the cap each), so keep 8 x cap (the jittered floor)
 * above the longest outage the endpoints must ride out.
 *
 * Owner of a delivery's status and attempts (`webhook_deliveries`,
 * `webhook_attempts`) and of an endpoint's health, and the writer of the
 * rows of deliveries that came in their jobs. The event hub
 * (objects/hub.ts) writes, pending, only those too big to carry; a replay
 * (webhooks.ts) makes one pending again.
 */
import { type Db, db } from "../db/client.ts";
import { type AttemptRecord, type CarriedRow, type DeliveryJobRow, deliveriesForJobs, markDead, recordAttempts } from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { publish } from "./events.ts";
import { withFreshMediaLinks } from "./media-links.ts";
import { countDeliveries } from "./metrics.ts";
import { DestinationRefused, checkDestination } from "./destinations.ts";
import { disableFailingWebhook } from "./webhooks.ts";
import { type Signer, signerFor } from "./webhook-signer.ts";
import type { DeliveryJob } from "./delivery-jobs.ts";

export type { DeliveryJob };

const MAX_DELAY_S = 43_200;
const TIMEOUT_MS = 10_000;
/** How much of a failed answer's body an attempt keeps. */
const RESPONSE_BODY_CHARS = 500;
const USER_AGENT = "Pombo-Webhooks/1.0 (+https://www.standardwebhooks.com)";
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
  const number = row.attempts + 1;
  const retryIn = answer.ok
    ? undefined
    : retryDelaySeconds(
        message.attempts,
        numberVar(env.POMBO_WEBHOOK_RETRY_BASE_S, DEFAULT_BASE_S),
        Math.random(),
        numberVar(env.POMBO_WEBHOOK_RETRY_MAX_S, MAX_DELAY_S),
      );
  return {
    message,
    retryIn,
    create: row.carried,
    record: {
      delivery_id: row.id,
      webhook_id: row.webhook.id,
      attempt: number,
      ok: answer.ok,
      status_code: answer.status,
      error: answer.error,
      response_body: answer.body,
      duration_ms: Date.now() - started,
      next_attempt_at: retryIn === undefined ? null : new Date(Date.now() + retryIn * 1000).toISOString(),
    },
  };
}

type Answer = { ok: boolean; status: number | null; error: string | null; body: string | null };

async function post(env: Env, row: DeliveryJobRow): Promise<Answer> {
  let url: URL;
  try {
    url = new URL(row.webhook.url);
  } catch {
    return { ok: false, status: null, error: "bad_url", body: null };
  }
  // Checked again at send time: the name may lead elsewhere now, or the operator setting changed.
  try {
    await checkDestination(env, url.hostname);
  } catch (err) {
    if (!(err instanceof DestinationRefused)) throw err;
    return { ok: false, status: null, error: `${err.code}: ${err.message}`.slice(0, 500), body: null };
  }
  let signer: Signer;
  try {
    signer = await signerFor(env, row.webhook);
  } catch {
    return { ok: false, status: null, error: "secret_unavailable", body: null };
  }
  const parsed = JSON.parse(row.body);
  const event = await withFreshMediaLinks(env, parsed);
  const payload = event === parsed ? row.body : JSON.stringify(event);
  const now = new Date();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: "POST",
      body: payload,
      redirect: "manual",
      signal,
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": row.event_id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signer(row.event_id, now, payload),
      },
    });
    const ok = response.status >= 200 && response.status < 300;
    // A success's body says nothing worth keeping; a failure's often says why.
    let body: string | null = null;
    if (ok) await response.body?.cancel();
    else body = await startOf(response);
    return { ok, status: response.status, error: ok ? null : `HTTP ${response.status}`, body };
  } catch (err) {
    if (signal.aborted) return { ok: false, status: null, error: `timeout: no answer within ${TIMEOUT_MS / 1000} s`, body: null };
    return { ok: false, status: null, error: `unreachable: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500), body: null };
  }
}

/** The first RESPONSE_BODY_CHARS characters of an answer, read no further than needed; null when empty or unreadable. */
async function startOf(response: Response): Promise<string | null> {
  const reader = response.body?.getReader();
  if (!reader) return null;
  const decoder = new TextDecoder();
  let text = "";
  try {
    // Four bytes per character at most: enough bytes for the characters kept.
    for (let bytes = 0; bytes < RESPONSE_BODY_CHARS * 4; ) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
  } catch {
    // The answer broke off: keep what came.
  }
  const kept = text.trim().slice(0, RESPONSE_BODY_CHARS);
  return kept === "" ? null : kept;
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

/**
 * The event hub's deliveries on their way out of its outbox (hub.ts).
 *
 * A delivery to an endpoint that is answering gets its first attempt right
 * here, as soon as it is published: one POST from the hub, no queue message
 * and no D1 read in between. The attempts are recorded together, one D1
 * round trip for those that came back within RECORD_LINGER_MS of the first
 * (services/webhook-delivery.ts `settleFirstAttempts`, which also queues the
 * failed ones' retries): at 60 events a second one record takes a dozen
 * attempts instead of one or two, and the delivery log shows an attempt that
 * much later. The queue and its consumer do the rest: retries, dead letters,
 * replays.
 *
 * The others go to the WEBHOOKS queue as jobs carrying their delivery, as
 * all did before: those of an endpoint failing (D1's `failing_since`, or a
 * first attempt here failed within FAILING_MS), those published while
 * FIRST_ATTEMPTS_MAX attempts are out (so a slow endpoint costs the queue,
 * never the others' wait), and what the alarm sends again. Publishes that
 * come in while a queue send is out leave together in the next one (one D1
 * batch first for the rare ones too big to carry, whose rows the hub writes,
 * pending).
 *
 * A delivery is done (`left`, so the hub deletes its outbox row) once its
 * attempt is recorded and any retry queued, or once its job is queued. If
 * anything on the way fails, or the object stops, its row stays and the
 * alarm queues it: an attempt that was made but not recorded is then made
 * again by the consumer, with the same `webhook-id` (at least once, as a
 * crash of the consumer between its POST and its record has always meant).
 */
import { db } from "../db/client.ts";
import { type Endpoint, type NewDelivery, insertDeliveries } from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { type DeliveryJob, jobFor, sendJobs } from "../services/delivery-jobs.ts";
import { type FirstAttempt, attemptFirst, settleFirstAttempts } from "../services/webhook-delivery.ts";

/** A delivery as the hub's outbox holds it (with its event's type and body). */
export type OutboxRow = { delivery_id: string; project_id: string; webhook_id: string; event_id: string; event_type: string; body: string };

/**
 * First attempts out at once. Workers opens at most six connections at a
 * time per invocation and queues the rest; past that, a delivery waits less
 * on the queue than behind a slow endpoint's attempts.
 */
const FIRST_ATTEMPTS_MAX = 6;
/** How long an endpoint whose first attempt failed gets its deliveries through the queue, whose backoff spares it. */
const FAILING_MS = 30_000;
/** How long the first attempt back waits for others to be recorded with (see the header). */
const RECORD_LINGER_MS = 200;
/** Deliveries per queue hand-over when publishes pile up while one is out. */
const DISPATCH_MAX = 500;

export class HubDeliveries {
  #ctx: DurableObjectState;
  /** The hub's env, read at each use (tests swap a binding in the live object). */
  #envOf: () => Env;
  #left: (rows: OutboxRow[]) => void;
  /** Deliveries on their way (attempted or queued, not yet done): the alarm leaves them be. */
  #inFlight = new Set<string>();
  #posting = 0;
  /** Endpoints whose first attempt here failed, until when their deliveries go through the queue. */
  #failingUntil = new Map<string, number>();
  /** Attempts back, not recorded yet. */
  #settled: { row: OutboxRow; attempt: FirstAttempt }[] = [];
  #recording = false;
  /** Deliveries for the queue, waiting for the send under way to finish. */
  #toQueue: OutboxRow[] = [];
  #queueing = false;

  constructor(ctx: DurableObjectState, env: () => Env, left: (rows: OutboxRow[]) => void) {
    this.#ctx = ctx;
    this.#envOf = env;
    this.#left = left;
  }

  /** Whether this delivery is on its way already (the alarm must not send it again). */
  has(deliveryId: string): boolean {
    return this.#inFlight.has(deliveryId);
  }

  /** Sends these off: first attempts for those whose endpoint is answering, within the cap; the queue for the rest. */
  start(rows: OutboxRow[], endpoints: ReadonlyMap<string, Endpoint>): void {
    const now = Date.now();
    const queued: OutboxRow[] = [];
    for (const row of rows) {
      this.#inFlight.add(row.delivery_id);
      const endpoint = endpoints.get(row.webhook_id);
      const failing = endpoint?.failing_since != null || this.#failedHere(row.webhook_id, now);
      if (endpoint && !failing && this.#posting < FIRST_ATTEMPTS_MAX) this.#attempt(row, endpoint);
      else queued.push(row);
    }
    if (queued.length > 0) this.#queue(queued);
  }

  /** Whether a first attempt at this endpoint failed within FAILING_MS (an older failure is forgotten). */
  #failedHere(webhookId: string, now: number): boolean {
    const until = this.#failingUntil.get(webhookId);
    if (until !== undefined && until <= now) this.#failingUntil.delete(webhookId);
    return until !== undefined && until > now;
  }

  /** Queues these now (the alarm's): whether they left. */
  async send(rows: OutboxRow[]): Promise<boolean> {
    return this.#dispatch(rows);
  }

  #attempt(row: OutboxRow, endpoint: Endpoint): void {
    this.#posting++;
    const { delivery_id: id, project_id, webhook_id, event_id, event_type, body } = row;
    const delivery = { id, project_id, webhook_id, event_id, event_type, body, created_at: new Date().toISOString() };
    const attempt = attemptFirst(this.#envOf(), delivery, endpoint).then(
      (attempt) => {
        if (!attempt.record.ok) this.#failingUntil.set(webhook_id, Date.now() + FAILING_MS);
        this.#settled.push({ row, attempt });
        this.#record();
      },
      (err) => {
        // Not made (nothing was sent): the queue makes it.
        console.error("event hub: a first attempt could not be made:", err instanceof Error ? err.message : err);
        this.#queue([row]);
      },
    );
    this.#ctx.waitUntil(attempt.finally(() => this.#posting--));
  }

  /** Records the attempts back, one round trip at a time, each with those back within RECORD_LINGER_MS. */
  #record(): void {
    if (this.#recording) return;
    this.#recording = true;
    const drain = async () => {
      try {
        while (this.#settled.length > 0) {
          await new Promise((resolve) => setTimeout(resolve, RECORD_LINGER_MS));
          const batch = this.#settled.splice(0, this.#settled.length);
          const rows = batch.map((b) => b.row);
          try {
            await settleFirstAttempts(this.#envOf(), batch.map((b) => b.attempt));
            this.#left(rows);
          } catch (err) {
            console.error(`event hub: ${rows.length} first attempts wait for the alarm:`, err instanceof Error ? err.message : err);
          }
          for (const row of rows) this.#inFlight.delete(row.delivery_id);
        }
      } finally {
        this.#recording = false;
      }
    };
    this.#ctx.waitUntil(drain());
  }

  /** Queues jobs for these; those added while a send is out leave with the next one. */
  #queue(rows: OutboxRow[]): void {
    this.#toQueue.push(...rows);
    if (this.#queueing) return;
    this.#queueing = true;
    const drain = async () => {
      try {
        while (this.#toQueue.length > 0) {
          const batch = this.#toQueue.splice(0, DISPATCH_MAX);
          await this.#dispatch(batch);
          for (const row of batch) this.#inFlight.delete(row.delivery_id);
        }
      } finally {
        this.#queueing = false;
      }
    };
    this.#ctx.waitUntil(drain());
  }

  /** Jobs to the queue (rows to D1 first for those too big to carry). A failure leaves them for the alarm. */
  async #dispatch(rows: OutboxRow[]): Promise<boolean> {
    if (rows.length === 0) return true;
    const jobs: DeliveryJob[] = [];
    const tooBig: NewDelivery[] = [];
    // The row's created_at, as when the hub wrote it: when the delivery was handed to the queue.
    const queuedAt = new Date().toISOString();
    for (const { delivery_id: id, project_id, webhook_id, event_id, event_type, body } of rows) {
      const delivery = { id, project_id, webhook_id, event_id, event_type, body };
      const { job, carried } = jobFor(delivery, queuedAt);
      jobs.push(job);
      if (!carried) tooBig.push(delivery);
    }
    try {
      if (tooBig.length > 0) await insertDeliveries(db(this.#envOf().DB), tooBig);
      await sendJobs(this.#envOf().WEBHOOKS, jobs);
    } catch (err) {
      console.error(`event hub: ${rows.length} deliveries wait for the alarm:`, err instanceof Error ? err.message : err);
      return false;
    }
    this.#left(rows);
    return true;
  }
}

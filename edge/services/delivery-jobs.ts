/**
 * The WEBHOOKS queue's messages, and how the event hub sends them.
 *
 * A job names one delivery. Usually it also carries it (`delivery`): the
 * event's body and where it goes, so the hub queues it without writing D1
 * first and the consumer creates the row with its first attempt
 * (services/webhook-delivery.ts). A delivery too big for a queue message
 * travels by id only, its row written by the hub first, as does a replay
 * (the row exists).
 *
 * Queues' limits (miniflare enforces them locally too): a message at most
 * 128 KB, a `sendBatch` at most 100 messages and 256 KB. A message is
 * measured as V8 serializes it, at most two bytes per UTF-16 unit of a
 * string, which bounds it here without encoding anything.
 */
import type { NewDelivery } from "../db/webhooks.ts";

/** What a job carries of its delivery: the row the consumer creates at its first attempt. */
export type CarriedDelivery = Pick<NewDelivery, "webhook_id" | "event_id" | "event_type" | "body"> & { created_at: string };

/**
 * One queue message: deliver this delivery (carried, or a row in D1).
 * `tried`: attempts made before the queue had it (the hub's first one), so
 * the consumer's backoff goes on from there.
 */
export type DeliveryJob = { delivery_id: string; project_id: string; delivery?: CarriedDelivery; tried?: number };

const MESSAGE_MAX_BYTES = 128_000;
const BATCH_MAX_BYTES = 256_000;
const BATCH_MAX_MESSAGES = 100;
/** Room for V8's tags and lengths and the queue's own per-message metadata. */
const OVERHEAD_BYTES = 512;

/** An upper bound on a job's size in the queue. */
function sizeOf(job: DeliveryJob): number {
  let units = job.delivery_id.length + job.project_id.length;
  if (job.delivery) for (const value of Object.values(job.delivery)) units += value.length;
  return 2 * units + OVERHEAD_BYTES;
}

/** The job for a delivery: carrying it when it fits in a message, else by id (then its row must be in D1 first: `carried` false). */
export function jobFor(delivery: NewDelivery, created_at: string): { job: DeliveryJob; carried: boolean } {
  const { id, project_id, webhook_id, event_id, event_type, body } = delivery;
  const job: DeliveryJob = { delivery_id: id, project_id, delivery: { webhook_id, event_id, event_type, body, created_at } };
  if (sizeOf(job) <= MESSAGE_MAX_BYTES) return { job, carried: true };
  return { job: { delivery_id: id, project_id }, carried: false };
}

/** A job to send, held back `delaySeconds` if set (a retry). */
export type Sending = DeliveryJob | { job: DeliveryJob; delaySeconds: number };

/** Sends jobs in as few `sendBatch` calls as Queues' count and size limits allow. */
export async function sendJobs(queue: Queue<DeliveryJob>, jobs: Sending[]): Promise<void> {
  let batch: MessageSendRequest<DeliveryJob>[] = [];
  let bytes = 0;
  for (const sending of jobs) {
    const message = "job" in sending ? { body: sending.job, delaySeconds: sending.delaySeconds } : { body: sending };
    const size = sizeOf(message.body);
    if (batch.length === BATCH_MAX_MESSAGES || (batch.length > 0 && bytes + size > BATCH_MAX_BYTES)) {
      await queue.sendBatch(batch);
      [batch, bytes] = [[], 0];
    }
    batch.push(message);
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}

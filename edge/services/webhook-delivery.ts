/**
 * STUB (issue 4, helper B fills it in): the queue consumer that delivers webhooks.
 */
import type { Env } from "../env.ts";

/** One queue message: deliver this delivery row. */
export type DeliveryJob = { delivery_id: string; project_id: string };

export async function handleQueueBatch(_batch: MessageBatch<DeliveryJob>, _env: Env): Promise<void> {}

/**
 * Owner of the metrics counters (`metric_counts`, `metric_failures`): the
 * one module that writes them. Each counter has one writer here, called by
 * the module where its fact happens, as one more statement of the batch
 * that records the fact, so it counts exactly when that write happens (a
 * stale status step, a resent message, a repeated opt-out count nothing)
 * and costs no round trip:
 *
 *   sent, delivered, read, played   a message's status move (message-status.ts)
 *   failed, by reason               the same, to `failed` (metric_failures)
 *   latency                         the move to `sent`: sent_at - created_at
 *   received                        a received message stored (inbound.ts)
 *   opt_outs                        a phone or contact newly opted out (contact-status.ts)
 *   webhooks_delivered              a delivery's attempt answered 2xx (webhook-delivery.ts)
 *   webhook_attempts_failed         any other attempt (it is retried)
 *   webhooks_failed                 a delivery given up: dead letter or endpoint disabled
 *
 * Reading them: metrics-report.ts.
 */
import { fillPlaceholders, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { countFact, countFactSql } from "../db/metrics.ts";
import type { MoveSql } from "../db/message-writes.ts";
import type { DeliveryCountSql } from "../db/webhooks.ts";
import { LATENCY_BOUNDS_MS, type MessageRow, latencyColumn, messages } from "../db/schema/index.ts";

type Status = MessageRow["status"];

/** Delivery steps in order: reaching one counts every step the message skipped on its way (a `read` receipt before `delivered`). */
const STEPS = ["queued", "sent", "delivered", "read", "played"] as const satisfies readonly Status[];
type Step = Exclude<(typeof STEPS)[number], "queued">;
const isStep = (s: Status): s is Step => s !== "queued" && (STEPS as readonly Status[]).includes(s);
/**
 * What a move to each step adds: every step up to it that the message had
 * not reached yet (`f.was` is its status before the move).
 */
const STEP_ADDS = Object.fromEntries(
  STEPS.slice(1).map((target, t) => [
    target,
    Object.fromEntries(STEPS.slice(1, t + 2).map((step) => [step, `(f.was IN (${STEPS.slice(0, STEPS.indexOf(step)).map((s) => `'${s}'`).join(", ")}))`])),
  ]),
) as Record<Step, Record<string, string>>;

/** The latency bucket of the send being moved, in ms since it was accepted (schema/metrics.ts), `sentAt` an SQL expression. */
const BUCKET_OF_MS = `CASE ${LATENCY_BOUNDS_MS.slice(0, -1)
  .map((bound, i) => `WHEN ms < ${bound} THEN ${i}`)
  .join(" ")} ELSE ${LATENCY_BOUNDS_MS.length - 1} END`;
const latencyBucket = (sentAt: string) => `(SELECT ${BUCKET_OF_MS} FROM (SELECT (julianday(${sentAt}) - julianday(messages.created_at)) * 86400000.0 AS ms))`;
/** What a send counts into the histogram: 1 in its bucket's column. */
const LATENCY_ADDS = Object.fromEntries(LATENCY_BOUNDS_MS.map((_, i) => [latencyColumn(i), `(f.bucket = ${i})`]));

/**
 * Counts a message's status move, for the move's batch, placed BEFORE the
 * update: `parts.movable` is the update's own condition (this message, in a
 * status it may move from), so the rows counted are exactly the ones the
 * update then moves, with their status before the move. As SQL text,
 * written once per shape of move (db/message-writes.ts `advanceMessageStatus`).
 * Null: nothing of this move is counted (canceled, deleted).
 */
export function countMove(move: { status: Status; sent_at?: string | null }, parts: MoveSql): string | null {
  const source = { project_id: "messages.project_id", instance_id: "messages.instance_id", from: `FROM messages WHERE ${parts.movable}` };
  if (move.status === "failed") return countFactSql("metric_failures", { ...source, keys: { reason: parts.reason }, adds: { count: 1 } }, parts);
  if (!isStep(move.status)) return null;
  const was = { was: "messages.status" };
  if (move.status === "sent" && move.sent_at) {
    return countFactSql("metric_counts", { ...source, fields: { ...was, bucket: latencyBucket(parts.sent_at) }, adds: { ...STEP_ADDS.sent, ...LATENCY_ADDS } }, parts);
  }
  return countFactSql("metric_counts", { ...source, fields: was, adds: STEP_ADDS[move.status] }, parts);
}

/**
 * Counts a received message, for the batch that stores it, after its insert:
 * nothing when that insert was a resend's. Its text is built once an hour
 * (the hour and the day it counts into are in it), not for every message:
 * the receive path runs it for each one.
 */
export function countReceived(d1: Db, id: string): D1PreparedStatement {
  const at = Date.now();
  const hour = Math.floor(at / 3_600_000);
  if (receivedCount?.hour !== hour) {
    const { sql: text, params } = countFact(d1, "metric_counts", {
      project_id: sql`${messages.project_id}`,
      instance_id: sql`${messages.instance_id}`,
      from: sql`FROM ${messages} WHERE ${messages.id} = ${sql.placeholder("id")} AND ${messages.status} = 'received'`,
      adds: { received: 1 },
    }, at).toSQL();
    receivedCount = { hour, text, params };
  }
  return d1.$client.prepare(receivedCount.text).bind(...fillPlaceholders(receivedCount.params, { id }));
}
let receivedCount: { hour: number; text: string; params: unknown[] } | undefined;

/** Counts an opt-out, on the number that talks to the person (none known: the project's only). */
export const countOptOut = (d1: Db, projectId: string, instanceId: string | null) =>
  countFact(d1, "metric_counts", { project_id: projectId, instance_id: instanceId, adds: { opt_outs: 1 } });

/**
 * Counts webhook deliveries, each on the number its event is about, for the
 * batch that records their outcome: as SQL text, written once by
 * db/webhooks.ts, which names the rows counted and what each adds to which
 * outcome (an SQL expression, 0 or 1).
 */
export const countDeliveries = (parts: DeliveryCountSql) =>
  countFactSql(
    "metric_counts",
    {
      project_id: "webhook_deliveries.project_id",
      instance_id: "json_extract(webhook_deliveries.body, '$.instance_id')",
      fields: parts.adds,
      from: parts.rows,
      adds: Object.fromEntries(Object.keys(parts.adds).map((outcome) => [outcome, `f."${outcome}"`])),
    },
    parts,
  );

/**
 * Counters per number and per project, per hour (`GET /metrics`).
 *
 * Each fact adds 1 to three rows at once (one upsert, services/metrics.ts):
 * its number's hour, its number's day, and the project's hour
 * (`instance_id` ''). The project rows make a project's 30 days 720 rows to
 * read instead of 720 per number; the number's day rows make every number's
 * totals over 30 days 30 rows a number instead of 720. A range is read as
 * whole days from day rows plus the hours at its ends from hour rows.
 * `start` is the bucket's first second (Unix time, UTC).
 */
import { type SQLiteIntegerBuilderInitial, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { projectId } from "./projects.ts";

/** The grains a row counts over: a number's hours and days, the project's hours. */
export const GRAINS = ["hour", "day"] as const;
export type Grain = (typeof GRAINS)[number];

/**
 * Accept->sent latency is kept as a histogram: a count of sends per
 * latency bucket, one column each. Counts add up, so the p50 and p95 of
 * any range (any number, the project, an hour or 30 days) come from
 * summing the range's buckets, which a stored percentile cannot do.
 * Upper bounds in ms, log-spaced (1-2-5 steps from 100 ms to 6 h, then
 * anything longer): a send waits seconds to hours behind pacing and caps,
 * and a percentile read off these is within its bucket's bounds.
 */
export const LATENCY_BOUNDS_MS = [
  100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
  Infinity,
] as const;
export const latencyColumn = (i: number) => `latency_${i}`;

/** What is counted, each a column (failures by reason are in `metric_failures`). */
export const COUNTERS = [
  "sent",
  "delivered",
  "read",
  "played",
  "received",
  "opt_outs",
  "webhooks_delivered",
  "webhooks_failed",
  "webhook_attempts_failed",
] as const;
export type Counter = (typeof COUNTERS)[number];

const counterColumns = Object.fromEntries(
  [...COUNTERS, ...LATENCY_BOUNDS_MS.map((_, i) => latencyColumn(i))].map((name) => [name, integer(name).notNull().default(0)]),
) as Record<Counter, SQLiteIntegerBuilderInitial<string>>;

/** The key every metrics row has. */
const bucketKey = () => ({
  project_id: projectId(),
  /** '' for the project's own rows (all its numbers, deleted ones included). */
  instance_id: text("instance_id").notNull(),
  grain: text("grain", { enum: GRAINS }).notNull(),
  start: integer("start").notNull(),
});

/**
 * One key order serves every read: a number's (or the project's) hours of a
 * range lie together (its series), and so do each number's days (their
 * totals, one seek per number). The migration makes both tables WITHOUT
 * ROWID (drizzle cannot say so): rows are stored in key order, so a range
 * is read in place, with no lookup from an index into the table.
 */
export const metricCounts = sqliteTable("metric_counts", { ...bucketKey(), ...counterColumns }, (t) => [
  primaryKey({ columns: [t.project_id, t.grain, t.instance_id, t.start] }),
]);

/** Failed sends by reason (`expired`, `server_error_463`, ...), keyed as metric_counts; their sum is the `failed` counter. */
export const metricFailures = sqliteTable(
  "metric_failures",
  { ...bucketKey(), reason: text("reason").notNull(), count: integer("count").notNull().default(0) },
  (t) => [primaryKey({ columns: [t.project_id, t.grain, t.instance_id, t.start, t.reason] })],
);

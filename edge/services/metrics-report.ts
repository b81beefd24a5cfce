/**
 * GET /metrics: the counters services/metrics.ts keeps, over a range, as a
 * series of hours or days, the range's totals, and (for the whole project)
 * each number's totals. Latency percentiles come from the summed histogram.
 */
import { db } from "../db/client.ts";
import { type CountsRow, type FailureRow, numberTotals, seriesRows } from "../db/metrics.ts";
import { COUNTERS, type Counter, LATENCY_BOUNDS_MS, latencyColumn } from "../db/schema/index.ts";
import { findInstance } from "../db/instances.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The longest range one query reads: a quarter, in hours (2,208 of them). */
export const MAX_RANGE_DAYS = 92;

export const BUCKETS = ["hour", "day"] as const;
export type MetricsQuery = { from?: string; to?: string; bucket: (typeof BUCKETS)[number]; instance_id?: string };

export type Figures = Record<Counter | "failed", number> & {
  failed_by_reason: Record<string, number>;
  latency_ms: { p50: number | null; p95: number | null };
};

/** A sum of counter rows and failure rows, kept as the histogram until it is shown. */
class Tally {
  counts = Object.fromEntries([...COUNTERS, ...LATENCY_BOUNDS_MS.map((_, i) => latencyColumn(i))].map((c) => [c, 0])) as Record<string, number>;
  failures: Record<string, number> = {};

  add(row: Partial<CountsRow>) {
    for (const key in this.counts) this.counts[key]! += Number((row as Record<string, unknown>)[key] ?? 0);
  }

  fail(row: FailureRow) {
    this.failures[row.reason] = (this.failures[row.reason] ?? 0) + Number(row.count);
  }

  figures(): Figures {
    const histogram = LATENCY_BOUNDS_MS.map((_, i) => this.counts[latencyColumn(i)]!);
    const out = Object.fromEntries(COUNTERS.map((c) => [c, this.counts[c]!])) as Record<Counter, number>;
    return {
      ...out,
      failed: Object.values(this.failures).reduce((a, b) => a + b, 0),
      failed_by_reason: { ...this.failures },
      latency_ms: { p50: percentile(histogram, 0.5), p95: percentile(histogram, 0.95) },
    };
  }
}

/**
 * The q-quantile of a latency histogram (counts per bucket of
 * LATENCY_BOUNDS_MS), interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; the open last bucket answers its
 * lower bound. Null with no samples.
 */
export function percentile(histogram: number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < histogram.length; i++) {
    const n = histogram[i]!;
    if (n > 0 && below + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i]!;
      if (!Number.isFinite(upper)) return lower;
      return Math.round(lower + ((upper - lower) * (rank - below)) / n);
    }
    below += n;
  }
  return null;
}

const badRange = (code: string, message: string, field: "from" | "to") => new ApiError(400, code, message, { field });

/**
 * The range the query covers, [from, to) in ms, rounded out to its
 * buckets: hours, or UTC days (so a day's figures are the whole day's, and
 * each number's totals come from day rows alone). Default: the 24 hours
 * up to now.
 */
function rangeOf(query: MetricsQuery, now = Date.now()): { from: number; to: number } {
  const to = Math.ceil((query.to ? Date.parse(query.to) : now) / HOUR_MS) * HOUR_MS;
  const from = Math.floor((query.from ? Date.parse(query.from) : to - DAY_MS) / HOUR_MS) * HOUR_MS;
  if (from >= to) throw badRange("invalid_range", "from must be before to", "from");
  if (to - from > MAX_RANGE_DAYS * DAY_MS) {
    throw badRange("range_too_long", `a range is at most ${MAX_RANGE_DAYS} days; ask for longer ones in parts`, "from");
  }
  if (query.bucket === "hour") return { from, to };
  return { from: Math.floor(from / DAY_MS) * DAY_MS, to: Math.ceil(to / DAY_MS) * DAY_MS };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

export async function metricsReport(env: Env, projectId: string, query: MetricsQuery) {
  const d1 = db(env.DB);
  const { from, to } = rangeOf(query);
  if (query.instance_id && !(await findInstance(d1, projectId, query.instance_id))) {
    throw new ApiError(404, "not_found", "instance not found", { field: "instance_id" });
  }
  const [fromS, toS] = [from / 1000, to / 1000];
  const step = query.bucket === "day" ? DAY_MS : HOUR_MS;
  const [rows, perNumber] = await Promise.all([
    seriesRows(d1, projectId, query.instance_id ?? "", fromS, toS, step / 1000),
    query.instance_id ? null : numberTotals(d1, projectId, fromS, toS),
  ]);

  // Every bucket of the range, empty ones too: a chart's x axis.
  const bucketOf = (startS: number) => Math.floor((startS * 1000) / step) * step;
  const series = new Map<number, Tally>();
  for (let t = bucketOf(fromS); t < to; t += step) series.set(t, new Tally());
  const totals = new Tally();
  for (const row of rows.counts) {
    series.get(bucketOf(row.start))?.add(row);
    totals.add(row);
  }
  for (const row of rows.failures) {
    series.get(bucketOf(row.start))?.fail(row);
    totals.fail(row);
  }

  return {
    from: iso(from),
    to: iso(to),
    bucket: query.bucket,
    instance_id: query.instance_id ?? null,
    series: [...series].map(([start, tally]) => ({ start: iso(start), ...tally.figures() })),
    totals: totals.figures(),
    ...(perNumber ? { numbers: numbersOf(perNumber) } : {}),
  };
}

/** Each of the project's numbers' totals, in creation order. */
const numbersOf = (rows: Awaited<ReturnType<typeof numberTotals>>) =>
  rows.map((row) => ({
    instance_id: row.id,
    name: row.name,
    ...(Object.fromEntries(COUNTERS.map((c) => [c, row[c] ?? 0])) as Record<Counter, number>),
    failed: row.failed ?? 0,
  }));

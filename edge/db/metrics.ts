/**
 * Storage for `metric_counts` and `metric_failures` (schema/metrics.ts):
 * the upsert that counts a fact, for the batch that records the fact, and
 * the reads of GET /metrics. Every query names the project.
 */
import { type SQL, getTableColumns, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { COUNTERS, type Counter, LATENCY_BOUNDS_MS, instances, latencyColumn, metricCounts, metricFailures } from "./schema/index.ts";

const HOUR_S = 3_600;
const DAY_S = 86_400;

const TABLES = { metric_counts: metricCounts, metric_failures: metricFailures };
type Table = keyof typeof TABLES;

/**
 * What one fact counts. `from` is the FROM and WHERE of the rows it is
 * counted for (each row once; none, nothing is counted), so the count
 * holds only if the write it goes with does: the batch's condition,
 * checked by SQLite in the same batch. Without `from`, it counts once.
 */
export type Fact = {
  project_id: SQL | string;
  /** Null: the project's row only (a fact of no number). */
  instance_id: SQL | string | null;
  /** More columns of each source row, for `adds` to read as `f.<name>`. */
  fields?: Record<string, SQL>;
  from?: SQL;
  /** More key columns and their values (metric_failures' reason). */
  keys?: Record<string, SQL>;
  /** Columns and what each adds: a number, or an SQL expression of `f.*` written in code (never a client's text). */
  adds: Record<string, string | number>;
};

const id = (name: string) => sql.raw(`"${name}"`);
const BUCKET_KEY = ["project_id", "instance_id", "grain", "start"];

/** The parts of a count's statement that depend only on its shape (table, key columns, what it adds), built once per shape. */
type Shape = { insert: string; before: string; between: string; after: string; target: SQLiteColumn[]; set: Record<string, SQL>; conflict: string };
const shapes = new Map<string, Shape>();

function shapeOf(table: Table, keys: string[], adds: Record<string, string | number>): Shape {
  const name = `${table}|${keys.join()}|${Object.entries(adds).join(";")}`;
  let shape = shapes.get(name);
  if (!shape) {
    const columns = getTableColumns(TABLES[table]) as Record<string, SQLiteColumn>;
    // Every column in table order (drizzle's rule for INSERT ... SELECT); `start` and the key columns are bound per fact.
    const text = (column: string) =>
      column === "project_id"
        ? "f.project_id"
        : column === "instance_id"
          ? "CASE s.k WHEN 2 THEN '' ELSE f.instance_id END"
          : column === "grain"
            ? "CASE s.k WHEN 1 THEN 'day' ELSE 'hour' END"
            : String(adds[column] ?? 0);
    const names = Object.keys(columns);
    const startAt = names.indexOf("start");
    const rest = names.slice(startAt + 1).filter((c) => !keys.includes(c));
    const quoted = (list: string[]) => list.map((c) => `"${columns[c]!.name}"`).join(", ");
    shape = {
      insert: `INSERT INTO "${table}" (${quoted([...names.slice(0, startAt + 1), ...keys, ...rest])}) `,
      before: `SELECT ${names.slice(0, startAt).map(text).join(", ")}, `,
      between: keys.length ? ", " : "",
      after: `, ${rest.map(text).join(", ")} FROM `,
      target: [...BUCKET_KEY, ...keys].map((column) => columns[column]!),
      set: Object.fromEntries(Object.keys(adds).map((a) => [a, sql.raw(`"${table}"."${a}" + excluded."${a}"`)])),
      conflict: ` ON CONFLICT (${quoted([...BUCKET_KEY, ...keys])}) DO UPDATE SET ${Object.keys(adds)
        .map((a) => `"${a}" = "${table}"."${a}" + excluded."${a}"`)
        .join(", ")}`,
    };
    shapes.set(name, shape);
  }
  return shape;
}

/** The rows a fact is counted on (its number's hour and day, the project's hour): the SELECT's tail, after its source. */
const FANOUT = `JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) s ON s.k = 2 OR f.instance_id IS NOT NULL
        WHERE true`;

/**
 * One INSERT ... SELECT that adds `fact` to three rows: its number's hour
 * and day, and the project's hour (see schema/metrics.ts). One statement,
 * so counting costs a batch one more and no round trip; its text is built
 * once per shape, so a count costs the Worker little more than its values.
 */
export function countFact(db: Db, table: Table, fact: Fact, at = Date.now()) {
  const { hour, day } = bucketStarts(at);
  const keys = Object.keys(fact.keys ?? {});
  const shape = shapeOf(table, keys, fact.adds);
  const fields = Object.entries(fact.fields ?? {}).map(([name, expr]) => sql`, ${expr} AS ${id(name)}`);
  return db
    .insert(TABLES[table])
    .select(
      sql`${sql.raw(shape.before)}CASE s.k WHEN 1 THEN ${day} ELSE ${hour} END${sql.raw(shape.between)}${sql.join(keys.map((k) => fact.keys![k]!), sql`, `)}${sql.raw(shape.after)}
        (SELECT ${fact.project_id} AS project_id, ${fact.instance_id} AS instance_id${sql.join(fields)} ${fact.from ?? sql``}) f
        ${sql.raw(FANOUT)}`,
    )
    .onConflictDoUpdate({ target: shape.target, set: shape.set });
}

/** The starts, in seconds, of the hour and the day a fact at `at` (ms) is counted in: the values of a count's `hour` and `day`. */
export function bucketStarts(at = Date.now()): { hour: number; day: number } {
  const now = Math.floor(at / 1000);
  return { hour: now - (now % HOUR_S), day: now - (now % DAY_S) };
}

/**
 * `countFact` as SQL text, for a statement written once (db/written.ts):
 * each value an SQL expression the caller names (`?N`, a column of the
 * source rows); `from` is the FROM and WHERE of the rows counted.
 */
export function countFactSql(
  table: Table,
  fact: { project_id: string; instance_id: string; fields?: Record<string, string>; from: string; keys?: Record<string, string>; adds: Record<string, string | number> },
  start: { hour: string; day: string },
): string {
  const keys = Object.keys(fact.keys ?? {});
  const shape = shapeOf(table, keys, fact.adds);
  const fields = Object.entries(fact.fields ?? {})
    .map(([name, expr]) => `, ${expr} AS "${name}"`)
    .join("");
  return `${shape.insert}${shape.before}CASE s.k WHEN 1 THEN ${start.day} ELSE ${start.hour} END${shape.between}${keys.map((k) => fact.keys![k]!).join(", ")}${shape.after}
        (SELECT ${fact.project_id} AS project_id, ${fact.instance_id} AS instance_id${fields} ${fact.from}) f
        ${FANOUT}${shape.conflict}`;
}

// ------------------------------------------------------------ reads

/** A series' columns: the counters and the latency histogram. */
const SERIES_COLUMNS = [...COUNTERS, ...LATENCY_BOUNDS_MS.map((_, i) => latencyColumn(i))];
const SERIES = sql.raw(SERIES_COLUMNS.map((c) => `"${c}"`).join(", "));
const SERIES_SUMS = sql.raw(SERIES_COLUMNS.map((c) => `SUM("${c}") AS "${c}"`).join(", "));

export type CountsRow = Record<Counter | `latency_${number}`, number>;
export type FailureRow = { reason: string; count: number };

/**
 * The rows of `query` (its `columns`), packed by SQLite into one JSON text
 * and unpacked here: a D1 answer of many rows costs the Worker per value
 * (most of a metrics read), one text costs one JSON.parse.
 */
async function packed<T extends Record<string, unknown>>(db: Db, query: SQL, columns: readonly string[]): Promise<T[]> {
  const [row] = await db.all<{ rows: string }>(
    sql`SELECT json_group_array(json_array(${sql.raw(columns.map((c) => `"${c}"`).join(", "))})) AS rows FROM (${query})`,
  );
  const arrays = JSON.parse(row?.rows ?? "[]") as unknown[][];
  return arrays.map((values) => Object.fromEntries(columns.map((c, i) => [c, values[i]])) as T);
}

/**
 * One number's (or, with `instanceId` '', the project's) series over
 * [from, to) in seconds, by `step` seconds (an hour or a day): its hour rows,
 * summed per step by SQLite when a step holds more than one, so a 30-day
 * series by day brings 30 rows to the Worker, not 720. With its failures.
 */
export async function seriesRows(db: Db, projectId: string, instanceId: string, from: number, to: number, step: number) {
  const scope = sql`project_id = ${projectId} AND grain = 'hour' AND instance_id = ${instanceId} AND start >= ${from} AND start < ${to}`;
  const bucket = sql.raw(`start - start % ${Math.floor(step)}`);
  // Side by side, not in a batch: drizzle's D1 batch cannot bind a raw query's parameters.
  const [counts, failures] = await Promise.all([
    packed<CountsRow & { start: number }>(
      db,
      step === HOUR_S
        ? sql`SELECT start, ${SERIES} FROM metric_counts WHERE ${scope}`
        : sql`SELECT ${bucket} AS start, ${SERIES_SUMS} FROM metric_counts WHERE ${scope} GROUP BY 1`,
      ["start", ...SERIES_COLUMNS],
    ),
    db.all<FailureRow & { start: number }>(sql`SELECT ${bucket} AS start, reason, SUM(count) AS count FROM metric_failures WHERE ${scope} GROUP BY 1, 2`),
  ]);
  return { counts, failures };
}

/**
 * Each of the project's numbers' counters and failures (no latency, no
 * reasons: those are one number's query) over [from, to) in seconds: whole
 * UTC days from day rows, the hours at either end from hour rows: 30 whole
 * days of 1,000 numbers read 30,000 rows, not 720,000. In creation order.
 */
export async function numberTotals(db: Db, projectId: string, from: number, to: number) {
  const firstDay = Math.ceil(from / DAY_S) * DAY_S;
  const lastDay = Math.floor(to / DAY_S) * DAY_S;
  // Each part of the range with its grain: [grain, start, end).
  const parts: [string, number, number][] = (
    firstDay < lastDay
      ? [
          ["day", firstDay, lastDay],
          ["hour", from, firstDay],
          ["hour", lastDay, to],
        ]
      : [["hour", from, to]]
  ).filter(([, start, end]) => start < end) as [string, number, number][];
  const projectNumbers = sql`SELECT ${instances.id} FROM ${instances} WHERE ${instances.project_id} = ${projectId}`;
  const sums = (columns: string[]) => sql.raw(columns.map((c) => `SUM("${c}") AS "${c}"`).join(", "));
  // Each part summed per number as SQLite reads it (no sort), then the parts' sums (a few rows a number) added up.
  const totalsOf = (table: string, columns: string[]) =>
    sql`SELECT instance_id, ${sums(columns)} FROM (${sql.join(
      parts.map(
        ([grain, start, end]) =>
          sql`SELECT instance_id, ${sums(columns)} FROM ${id(table)}
              WHERE project_id = ${projectId} AND grain = ${grain} AND instance_id IN (${projectNumbers}) AND start >= ${start} AND start < ${end}
              GROUP BY instance_id`,
      ),
      sql` UNION ALL `,
    )}) GROUP BY instance_id`;
  // The project's numbers (named, and shown when they counted nothing; a deleted number's counts stay in the project's), with their sums.
  const rows = await packed<Record<Counter | "failed", number | null> & { id: string; name: string; created_at: string }>(
    db,
    sql`SELECT i.id, i.name, i.created_at, ${sql.raw(COUNTERS.map((c) => `c."${c}"`).join(", "))}, f.count AS failed
        FROM ${instances} i
        LEFT JOIN (${totalsOf("metric_counts", [...COUNTERS])}) c ON c.instance_id = i.id
        LEFT JOIN (${totalsOf("metric_failures", ["count"])}) f ON f.instance_id = i.id
        WHERE i.project_id = ${projectId}`,
    ["id", "name", "created_at", ...COUNTERS, "failed"],
  );
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

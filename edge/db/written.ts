/**
 * Statements written once as SQL text, for the hottest writes (the move to
 * `sent` and its batch, a receipt's move, the accept's insert): drizzle builds a statement's text
 * on every call (a tenth of the edge's CPU per send, bench/profiles/
 * send-2026-12.md), and its `.prepare()` cannot take placeholders inside a
 * batch. The table's owner module writes the text, each value an SQL
 * expression its caller names (`?N`, a subquery), so a batch's statements
 * share one list of values by role; each statement binds the first N of
 * them, N its highest `?N`. Rows come back as D1 gives them: `readerOf`
 * maps them as drizzle would.
 */
import { getTableColumns } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

/** A statement written once: given the batch's values by role, a D1 statement bound to those it names. */
export type Written = (d1: D1Database, values: readonly unknown[]) => D1PreparedStatement;

export function written(text: string): Written {
  const count = Math.max(0, ...[...text.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])));
  return (d1, values) => {
    if (values.length < count) throw new Error(`written: ${count} values wanted, ${values.length} given`);
    return d1.prepare(text).bind(...values.slice(0, count));
  };
}

/** `column IN ('a', 'b')` for a list the code fixes (statuses), never a client's values. */
export const inConstants = (column: string, values: readonly string[]) =>
  `${column} IN (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ")})`;

/** A row of `table` as D1 answers it (SQL names, driver values) read as drizzle would (JSON columns parsed, booleans); a column not in the row is left out. */
export function readerOf<T extends SQLiteTable>(table: T): (row: Record<string, unknown>) => T["$inferSelect"] {
  const columns = Object.entries(getTableColumns(table)) as [string, SQLiteColumn][];
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const [key, column] of columns) {
      if (!(column.name in row)) continue; // a RETURNING of some columns
      const value = row[column.name];
      out[key] = value === null ? null : column.mapFromDriverValue(value);
    }
    return out as T["$inferSelect"];
  };
}

/** A value as `table`'s column `key` stores it (JSON text, 0/1), for a bound parameter. */
export const driverValue = (table: SQLiteTable, key: string, value: unknown) =>
  value === null || value === undefined ? null : (getTableColumns(table)[key] as SQLiteColumn).mapToDriverValue(value);


/**
 * Statements built from a list of any length. D1 allows 100 bound parameters
 * per statement, so a list travels as one JSON parameter and SQLite's
 * json_each unpacks it.
 */
import { SQL, getTableColumns, is, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

/** The list in parts of `size` (the last one shorter): for writes too big for one statement or one batch. */
export const chunks = <T>(list: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

/** `column IN (...values)`, with one bound parameter. */
export const inList = (column: SQL | SQLiteColumn, values: readonly string[]) =>
  sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;

/**
 * The rows as the SELECT of an `INSERT ... SELECT` into `table`, with one
 * bound parameter for all of them: every column in the table's order
 * (drizzle's rule), stored as drizzle would store it, and a column a row
 * leaves out takes its default.
 */
export function rowsOf<T extends SQLiteTable>(table: T, rows: readonly T["$inferInsert"][]): SQL {
  const columns = Object.entries(getTableColumns(table)) as [string, SQLiteColumn][];
  const data = rows.map((row) =>
    Object.fromEntries(
      columns.flatMap(([key, column]) => {
        const given = (row as Record<string, unknown>)[key];
        const value = given === undefined && column.defaultFn ? column.defaultFn() : given;
        return value === undefined ? [] : [[column.name, value === null ? null : column.mapToDriverValue(value)]];
      }),
    ),
  );
  const picks = columns.map(([, column]) => {
    const field = sql.raw(`value ->> '$.${column.name}'`);
    if (!column.hasDefault || column.default === undefined) return field;
    const fallback = is(column.default, SQL) ? column.default : sql`${column.default}`;
    // Absent from the row (not JSON null): the column's default.
    return sql`CASE WHEN json_type(value, ${sql.raw(`'$.${column.name}'`)}) IS NULL THEN ${fallback} ELSE ${field} END`;
  });
  return sql`SELECT ${sql.join(picks, sql`, `)} FROM json_each(${JSON.stringify(data)}) ORDER BY key`;
}

/**
 * Reads of several tables in one D1 round trip, for the hottest path there
 * is: accepting a send. Each table's owner module declares its read once
 * with drizzle (`prepared`, values as `sql.placeholder`s), so the SQL text is
 * built at load and every call only binds; a caller collects the bound
 * statements in a `Reads` and runs them as one batch, then each module
 * reads its rows back. Rows come as D1 gives them, keyed by column name:
 * select plain columns named as their fields.
 */
import { type SQL, type SQLWrapper, fillPlaceholders, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/** A statement bound to its values, whose rows are `Row`s. */
export type Bound<Row> = D1PreparedStatement & { readonly __row?: Row };

/** A read declared once: bind values, get a statement for a `Reads`. */
export function prepared<Row, Values extends Record<string, unknown>>(query: { toSQL(): { sql: string; params: unknown[] } }) {
  const { sql: text, params } = query.toSQL();
  return (d1: D1Database, values: Values): Bound<Row> => d1.prepare(text).bind(...fillPlaceholders(params, values));
}

/** `column IN (...)` for a list bound later, as one JSON text (D1's 100-parameter limit; lists.ts's `inList` for built queries). */
export const inListOf = (column: SQLiteColumn | SQLWrapper, name: string): SQL =>
  sql`${column} IN (SELECT value FROM json_each(${sql.placeholder(name)}))`;

export class Reads {
  readonly #statements: D1PreparedStatement[] = [];
  #results: D1Result[] | undefined;

  /** Queues a read; what it returns gives the read's rows once `run` has been awaited. */
  add<Row>(statement: Bound<Row>): () => Row[] {
    if (this.#results) throw new Error("Reads: a read added after the batch ran");
    const index = this.#statements.push(statement) - 1;
    return () => {
      if (!this.#results) throw new Error("Reads: rows asked for before the batch ran");
      return this.#results[index]!.results as Row[];
    };
  }

  /** Every read added so far, in one batch (none: no round trip). */
  async run(d1: D1Database): Promise<void> {
    this.#results = this.#statements.length === 0 ? [] : await d1.batch(this.#statements);
  }
}

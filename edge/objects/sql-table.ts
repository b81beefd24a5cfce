/**
 * How every Durable Object here lays out its own SQLite. Each table is
 * declared once (`SqlTableSpec`: name, columns, indexes) and each object
 * creates all of its tables with `createTables` in its constructor. The SQL
 * API is synchronous, so that runs before the object serves any request,
 * alarm or WebSocket message (no `blockConcurrencyWhile` needed), and the
 * object's code never meets a missing table. The statements are idempotent
 * (`IF NOT EXISTS`): an object that has its tables already keeps them, their
 * columns and their rows. Changing a table means adding a statement, never
 * editing one that existing objects have run.
 *
 * `storage.deleteAll()` drops the tables as well: an object that calls it
 * runs `createTables` again straight after.
 */
export type SqlTableSpec = {
  name: string;
  /** The column list of CREATE TABLE. */
  columns: string;
  /** Index name -> the columns it covers. */
  indexes?: Record<string, string>;
};

export function createTables(sql: SqlStorage, tables: readonly SqlTableSpec[]): void {
  for (const { name, columns, indexes = {} } of tables) {
    sql.exec(`CREATE TABLE IF NOT EXISTS ${name} (${columns})`);
    for (const [index, on] of Object.entries(indexes)) sql.exec(`CREATE INDEX IF NOT EXISTS ${index} ON ${name} (${on})`);
  }
}

/** A table with methods of its own (the outbox, the send journal, the session), in an object that created it. */
export class SqlTable {
  protected readonly sql: SqlStorage;
  readonly #name: string;

  constructor(sql: SqlStorage, spec: SqlTableSpec) {
    this.sql = sql;
    this.#name = spec.name;
  }

  size(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${this.#name}`).one().n;
  }
}

/**
 * A table in a Durable Object's own SQLite, created on first use, and again
 * after `storage.deleteAll()` (call `reset()` then).
 */
export class SqlTable {
  #sql: SqlStorage;
  #name: string;
  #columns: string;
  #ready = false;

  constructor(sql: SqlStorage, name: string, columns: string) {
    this.#sql = sql;
    this.#name = name;
    this.#columns = columns;
  }

  protected db(): SqlStorage {
    if (!this.#ready) {
      this.#sql.exec(`CREATE TABLE IF NOT EXISTS ${this.#name} (${this.#columns})`);
      this.#ready = true;
    }
    return this.#sql;
  }

  size(): number {
    return this.db().exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${this.#name}`).one().n;
  }

  /** Forget everything (the instance is being deleted). */
  reset(): void {
    this.#ready = false;
  }
}

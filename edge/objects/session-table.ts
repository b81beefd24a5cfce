/**
 * One number's WhatsApp session (Baileys creds and Signal keys), in its
 * Durable Object's SQLite: one row per Baileys key, each value ciphertext the
 * fleet sealed before sending it (the edge never holds the session key).
 * The fleet reads and writes it over its link (`session.get`, `session.set`,
 * `session.clear`).
 */
import { SqlTable, type SqlTableSpec } from "./sql-table.ts";

export class SessionTable extends SqlTable {
  static readonly table: SqlTableSpec = { name: "session", columns: "k TEXT PRIMARY KEY, v TEXT NOT NULL" };

  #storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    super(storage.sql, SessionTable.table);
    this.#storage = storage;
  }

  /** Every key asked for, null where there is none. */
  get(keys: string[]): Record<string, string | null> {
    const values: Record<string, string | null> = Object.fromEntries(keys.map((k) => [k, null]));
    // json_each keeps this one statement with one bound parameter, however many keys.
    const rows = this.sql.exec<{ k: string; v: string }>(
      "SELECT k, v FROM session WHERE k IN (SELECT value FROM json_each(?))",
      JSON.stringify(keys),
    );
    for (const row of rows) values[row.k] = row.v;
    return values;
  }

  /** One Baileys `keys.set` call (null deletes a key): all of it lands, or none of it. */
  set(entries: Record<string, string | null>): number {
    return this.#storage.transactionSync(() => {
      let written = 0;
      for (const [k, v] of Object.entries(entries)) {
        if (v === null) this.sql.exec("DELETE FROM session WHERE k = ?", k);
        else this.sql.exec("INSERT INTO session (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
        written++;
      }
      return written;
    });
  }

  /** The session writes a fleet's answer carries (a `message.send`'s `session`), checked by hand: null when there are none or they are not entries. */
  static entriesOf(value: unknown): Record<string, string | null> | null {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    const entries = value as Record<string, unknown>;
    for (const key in entries) if (entries[key] !== null && typeof entries[key] !== "string") return null;
    return Object.keys(entries).length ? (entries as Record<string, string | null>) : null;
  }

  /** Forgets the session (a logout); how many keys went. */
  clear(): number {
    return this.sql.exec("DELETE FROM session").rowsWritten;
  }
}

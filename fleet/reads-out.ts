/**
 * The keys of one socket with a read out at their store, and those of them
 * written since that read left: its answer is older than the write, so it is
 * neither cached nor remembered as "absent" (key-cache.ts, session-store.ts).
 * Reads and writes of a socket's keys overlap since the key cache holds no
 * lock across the edge's answer (key-cache.ts `cachedKeyStore`).
 */
export class ReadsOut {
  /** How many reads of each key are out. */
  #reading = new Map<string, number>();
  #written = new Set<string>();

  /** A read of `keys` leaves. */
  start(keys: readonly string[]): void {
    for (const key of keys) this.#reading.set(key, (this.#reading.get(key) ?? 0) + 1);
  }

  /** `key` is written now (held, queued or sent alike). */
  wrote(key: string): void {
    if (this.#reading.has(key)) this.#written.add(key);
  }

  /** True when `key` was written after a read of it that is still out left. */
  writtenSince(key: string): boolean {
    return this.#written.has(key);
  }

  /** The read of `keys` is back (answered or failed). */
  end(keys: readonly string[]): void {
    for (const key of keys) {
      const n = (this.#reading.get(key) ?? 1) - 1;
      if (n > 0) this.#reading.set(key, n);
      else {
        this.#reading.delete(key);
        this.#written.delete(key);
      }
    }
  }
}

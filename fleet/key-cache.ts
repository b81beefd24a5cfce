/**
 * The in-memory cache in front of one socket's Signal keys.
 *
 * Baileys' default cache for `makeCacheableSignalKeyStore` starts an interval
 * timer that is never stopped, so every socket restart would leak one cache
 * full of keys. This one is the same idea (entries expire a few minutes after
 * their last write, so an idle number holds almost nothing) with a `close()`
 * called when the socket ends (through its session store, wa-socket.ts).
 */
import type { CacheStore, SignalDataTypeMap, SignalKeyStore } from "@whiskeysockets/baileys";
import { ReadsOut } from "./reads-out.ts";

const DEFAULT_TTL_MS = 5 * 60_000;

export class KeyCache implements CacheStore {
  #entries = new Map<string, { value: unknown; expiresAt: number }>();
  #ttlMs: number;
  #sweeper: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(ttlMs = DEFAULT_TTL_MS) {
    this.#ttlMs = ttlMs;
  }

  get<T>(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  set<T>(key: string, value: T): void {
    if (this.#closed) return; // a late write from a socket that already ended
    this.#entries.set(key, { value, expiresAt: Date.now() + this.#ttlMs });
    // Only a cache holding something needs sweeping: idle numbers cost no timer.
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#ttlMs).unref();
  }

  del(key: string): void {
    this.#entries.delete(key);
  }

  flushAll(): void {
    this.#entries.clear();
  }

  close(): void {
    this.#closed = true;
    this.#entries.clear();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    if (this.#entries.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }
}

/**
 * `store` behind `cache`: what Baileys' `makeCacheableSignalKeyStore` does,
 * without its one lock per socket held across the store's round trip. There,
 * every read the cache missed and every write waited for the previous one's
 * answer from the edge, so a number's messages queued one behind another
 * wherever a key was missing: a new customer's first message reads and writes
 * their LID mapping (two or three round trips), and at six messages a second
 * per number the queue grew to seconds (bench/profiles/inbound-2026-12.md,
 * round 7). Writes still reach the store in call order, and each still
 * resolves once the store has it (session-store.ts); a read that misses no
 * longer waits for anyone else's. A key written while a read of it was out
 * is answered from the cache, never with the older value the store returned.
 */
export function cachedKeyStore(store: SignalKeyStore, cache: KeyCache): SignalKeyStore {
  const slot = (type: string, id: string) => `${type}.${id}`;
  const reads = new ReadsOut();
  return {
    async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const data: { [id: string]: SignalDataTypeMap[T] } = {};
      const missing: string[] = [];
      for (const id of ids) {
        const item = cache.get<SignalDataTypeMap[T]>(slot(type, id));
        if (item !== undefined) data[id] = item;
        else missing.push(id);
      }
      if (missing.length === 0) return data;
      const slots = missing.map((id) => slot(type, id));
      reads.start(slots);
      try {
        const fetched = await store.get(type, missing);
        missing.forEach((id, i) => {
          const s = slots[i]!;
          const rewritten = reads.writtenSince(s);
          const written = rewritten ? cache.get<SignalDataTypeMap[T]>(s) : undefined;
          if (written !== undefined) data[id] = written;
          else if (fetched[id]) {
            data[id] = fetched[id];
            if (!rewritten) cache.set(s, fetched[id]);
          }
        });
        return data;
      } finally {
        reads.end(slots);
      }
    },
    async set(data) {
      for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
        for (const [id, value] of Object.entries(data[type] ?? {})) {
          const s = slot(type, id);
          cache.set(s, value);
          reads.wrote(s);
        }
      }
      await store.set(data);
    },
    async clear() {
      cache.flushAll();
      await store.clear?.();
    },
  };
}

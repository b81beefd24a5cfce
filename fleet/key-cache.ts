/**
 * The in-memory cache in front of one socket's Signal keys.
 *
 * Baileys' default cache for `makeCacheableSignalKeyStore` starts an interval
 * timer that is never stopped, so every socket restart would leak one cache
 * full of keys. This one is the same idea (entries expire a few minutes after
 * their last write, so an idle number holds almost nothing) with a `close()`
 * called when the socket ends (through its session store, wa-socket.ts).
 */
import type { CacheStore } from "@whiskeysockets/baileys";

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

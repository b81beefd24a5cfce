/**
 * When a number's next socket starts after one closed.
 *
 * The close says how soon (close-codes.ts): `now` (515, WhatsApp asks
 * for a restart, e.g. right after pairing) is honoured a few times in a row;
 * past that, and for `backoff` and `slow`, the wait grows with each attempt.
 * A connection that stayed open long enough was healthy: the count starts
 * over.
 */
import type { Logger } from "pino";
import { BACKOFF, type CloseAction, backoffDelay } from "./close-codes.ts";

/** A connection that stayed open this long counts as healthy: the backoff starts over. */
const STABLE_OPEN_MS = 60_000;
/** 515 asks for an immediate reconnect; more than this many in a row without a stable open fall back to backoff. */
const MAX_IMMEDIATE_RECONNECTS = 3;

export type ReconnectDelay = Extract<CloseAction, { reconnect: true }>["delay"];

export class ReconnectSchedule {
  #random: () => number;
  #logger: Logger;
  #attempt = 0;
  #immediateStreak = 0;
  #openedAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: { random: () => number; logger: Logger }) {
    this.#random = opts.random;
    this.#logger = opts.logger;
  }

  /** A reconnect is waiting for its time. */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /** The socket opened. */
  opened(): void {
    this.#openedAt = Date.now();
  }

  /** The socket closed by itself: if it had been open long enough, the count starts over. */
  closed(): void {
    if (this.#openedAt !== null && Date.now() - this.#openedAt >= STABLE_OPEN_MS) {
      this.#attempt = 0;
      this.#immediateStreak = 0;
    }
  }

  /** The socket is let go (closed, or ended by us): nothing waits, and its open time no longer counts. */
  letGo(): void {
    this.clear();
    this.#openedAt = null;
  }

  /** Backoff from its first step again (a restart, an imported session). */
  resetBackoff(): void {
    this.#attempt = 0;
  }

  /** Immediate reconnects allowed again (a restart). */
  resetImmediate(): void {
    this.#immediateStreak = 0;
  }

  /** Calls `start` after the wait `delay` asks for (at once for `now`, while the streak allows). */
  schedule(delay: ReconnectDelay, start: () => void): void {
    this.clear();
    if (delay === "now" && this.#immediateStreak < MAX_IMMEDIATE_RECONNECTS) {
      this.#immediateStreak++;
      this.#logger.info("reconnecting now");
      start();
      return;
    }
    const ms = backoffDelay(this.#attempt++, BACKOFF[delay === "slow" ? "slow" : "backoff"], this.#random);
    this.#logger.info({ in_ms: ms, attempt: this.#attempt }, "reconnect scheduled");
    this.#timer = setTimeout(() => {
      this.#timer = null;
      start();
    }, ms);
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

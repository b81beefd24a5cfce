/**
 * When a number's next socket starts after one closed.
 *
 * The close says how soon (close-codes.ts): `now` (515, WhatsApp asks
 * for a restart, e.g. right after pairing) is honoured a few times in a row;
 * past that, and for `backoff` and `slow`, the wait grows with each attempt.
 * A connection that stayed open long enough was healthy: the count starts
 * over.
 *
 * Each attempt is one info line ("reconnect scheduled", with the close that
 * caused it); while the number is retrying, the attempt's own steps (socket
 * started, connecting, closed again) log at debug (`retrying`).
 */
import type { Logger } from "pino";
import { BACKOFF, type CloseAction, backoffDelay } from "./close-codes.ts";

/** A connection that stayed open this long counts as healthy: the backoff starts over. */
const STABLE_OPEN_MS = 60_000;
/** 515 asks for an immediate reconnect; more than this many in a row without a stable open fall back to backoff. */
const MAX_IMMEDIATE_RECONNECTS = 3;

export type ReconnectDelay = Extract<CloseAction, { reconnect: true }>["delay"];

/** What ended the last attempt, for its log line. */
export type ReconnectCause = { close_code?: number | null; reason?: string | null; err?: string };

export class ReconnectSchedule {
  #random: () => number;
  #logger: Logger;
  #attempt = 0;
  #immediateStreak = 0;
  #openedAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #retrying = false;

  constructor(opts: { random: () => number; logger: Logger }) {
    this.#random = opts.random;
    this.#logger = opts.logger;
  }

  /** A reconnect is waiting for its time. */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /** A reconnect was scheduled and no socket has opened since (nor did a command start afresh). */
  get retrying(): boolean {
    return this.#retrying;
  }

  /** The socket opened. */
  opened(): void {
    this.#openedAt = Date.now();
    this.#retrying = false;
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
    this.#retrying = false;
  }

  /** Immediate reconnects allowed again (a restart). */
  resetImmediate(): void {
    this.#immediateStreak = 0;
  }

  /** Calls `start` after the wait `delay` asks for (at once for `now`, while the streak allows). */
  schedule(delay: ReconnectDelay, start: () => void, cause: ReconnectCause = {}): void {
    this.clear();
    this.#retrying = true;
    if (delay === "now" && this.#immediateStreak < MAX_IMMEDIATE_RECONNECTS) {
      this.#immediateStreak++;
      this.#logger.info(cause, "reconnecting now");
      start();
      return;
    }
    const ms = backoffDelay(this.#attempt++, BACKOFF[delay === "slow" ? "slow" : "backoff"], this.#random);
    this.#logger.info({ attempt: this.#attempt, in_ms: ms, ...cause }, "reconnect scheduled");
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

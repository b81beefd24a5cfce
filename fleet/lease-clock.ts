/**
 * Our own, pessimistic clock of an instance's lease: when it ends by our
 * count, never later than by the edge's.
 *
 * The edge renews the lease each time it answers our `ping` with `pong`, and
 * considers it expired LEASE_TTL_MS after the last `pong` it sent. Every
 * `ping` we send is timestamped into a FIFO; each `pong` confirms the oldest
 * one. The send time of a confirmed ping is earlier than the edge's `pong`,
 * so counting from it errs on the safe side. If no ping was confirmed within
 * LEASE_TTL_MS - LEASE_FENCE_MARGIN_MS, the lease counts as lost: `onFence`
 * fires, and the link's owner kills the WhatsApp socket at once.
 */
import { LEASE_FENCE_MARGIN_MS, LEASE_TTL_MS, PING, PING_INTERVAL_MS } from "../shared/protocol.ts";

/** Where pings go: the link's WebSocket, while it has one. */
export type PingTarget = { readonly readyState: number; readonly OPEN: number; send(text: string): void };

export type LeaseClockOptions = {
  now: () => number;
  /** The lease ran out by our count. */
  onFence(sinceConfirmedMs: number): void;
  /** Protocol constants; only tests change them, to watch a fence happen in a second. */
  pingIntervalMs?: number;
  fenceMarginMs?: number;
};

export class LeaseClock {
  #opts: LeaseClockOptions;
  #held = false;
  #ttlMs = LEASE_TTL_MS;
  #confirmedAt = 0;
  #pingSentAt: number[] = [];
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #fenceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: LeaseClockOptions) {
    this.#opts = opts;
  }

  /** The lease is ours by our own count (possibly while the link is being reopened). */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Granted for `ttlMs`, on a link whose request left at `requestedAt` (the
   * edge granted no earlier, so the lease is counted from there), and pinged
   * through `target` from now on.
   */
  granted(ttlMs: number, requestedAt: number, target: () => PingTarget | null): void {
    this.#held = true;
    this.#ttlMs = ttlMs;
    this.#confirmedAt = requestedAt;
    this.#pingSentAt = [];
    this.#arm();
    this.#startPinging(target);
  }

  /** A pong: it answers the oldest ping not yet answered. */
  ponged(): void {
    const sentAt = this.#pingSentAt.shift();
    if (sentAt === undefined || !this.#held || sentAt <= this.#confirmedAt) return;
    this.#confirmedAt = sentAt;
    this.#arm();
  }

  /** The link's socket is gone: no more pings, and the pongs to those sent never come. */
  stopPinging(): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    this.#pingSentAt = [];
  }

  /** No fence to wait for: the link shuts down. */
  disarm(): void {
    if (this.#fenceTimer) clearTimeout(this.#fenceTimer);
    this.#fenceTimer = null;
  }

  /** The lease is not ours any more (fenced, held elsewhere, ended). */
  release(): void {
    this.#held = false;
    this.disarm();
  }

  /** How long since the edge last confirmed the lease, by our count. */
  sinceConfirmed(): number {
    return this.#opts.now() - this.#confirmedAt;
  }

  #startPinging(target: () => PingTarget | null): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      const ws = target();
      if (!ws || ws.readyState !== ws.OPEN) return;
      this.#pingSentAt.push(this.#opts.now());
      ws.send(PING);
    }, this.#opts.pingIntervalMs ?? PING_INTERVAL_MS);
  }

  #arm(): void {
    this.disarm();
    const deadline = this.#confirmedAt + this.#ttlMs - (this.#opts.fenceMarginMs ?? LEASE_FENCE_MARGIN_MS);
    this.#fenceTimer = setTimeout(() => {
      this.#fenceTimer = null;
      if (this.#held) this.#opts.onFence(this.sinceConfirmed());
    }, Math.max(0, deadline - this.#opts.now()));
  }
}

/**
 * What to do when a WhatsApp socket closes, by its close code.
 *
 * Baileys reports the server's reason as a Boom status code
 * (`lastDisconnect.error.output.statusCode`). Getting this wrong is costly:
 * reconnecting a banned number makes things worse, and two sessions fighting
 * over one number (440) will loop forever if each reconnects at once.
 */
export type CloseAction =
  /** Rescan needed: wipe the session and stop. */
  | { reason: "logged_out"; reconnect: false }
  /** Out of rotation: keep the session for a human to look at, stop. */
  | { reason: "banned"; reconnect: false }
  /**
   * Reconnect by itself. `delay` picks the backoff curve:
   * `now` (515 after pairing), `backoff` (network trouble) or `slow`
   * (another client took the session over: wait long, never loop).
   */
  | { reason: "transient"; reconnect: true; delay: "now" | "backoff" | "slow"; refreshVersion: boolean };

export function classifyClose(code: number | null | undefined): CloseAction {
  switch (code) {
    case 401: // logged out from the phone, or the session was invalidated
      return { reason: "logged_out", reconnect: false };
    case 402: // temporarily banned
    case 403: // forbidden: banned
    case 406: // unavailable: banned
      return { reason: "banned", reconnect: false };
    case 440: // connection replaced: another client opened the same session
      return { reason: "transient", reconnect: true, delay: "slow", refreshVersion: false };
    case 515: // restart required, e.g. right after pairing
      return { reason: "transient", reconnect: true, delay: "now", refreshVersion: false };
    case 405: // the server rejects our WhatsApp Web version
      return { reason: "transient", reconnect: true, delay: "backoff", refreshVersion: true };
    default: // 408 timeout, 428 closed, 500 bad session, 503 unavailable, and anything unknown
      return { reason: "transient", reconnect: true, delay: "backoff", refreshVersion: false };
  }
}

export type BackoffOptions = { baseMs: number; maxMs: number };
export const BACKOFF: Record<"backoff" | "slow", BackoffOptions> = {
  backoff: { baseMs: 1_000, maxMs: 60_000 },
  slow: { baseMs: 30_000, maxMs: 600_000 },
};

/**
 * Capped exponential backoff with "equal jitter": attempt n waits between half
 * and all of min(max, base * 2^n). Jitter spreads a fleet's
 * reconnects so a WhatsApp outage does not end in a thundering herd.
 */
export function backoffDelay(attempt: number, { baseMs, maxMs }: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The two waits of a chaos run: for the worst moment to strike, and, at the
 * end, until everything arrived or nothing more has come for a while.
 */
import { sleep } from "../harness/waits.ts";
import { secs } from "./result.ts";
import type { Log } from "./stack.ts";

/**
 * Waits (at most `withinMs`) until `exposed()` -- messages a crash now would
 * put at risk -- reaches `atLeast`, polling every 5 ms; returns the last
 * reading. A run that must lose nothing must lose nothing when struck then.
 */
export async function worstMoment(exposed: () => number, opts: { atLeast: number; withinMs: number }): Promise<number> {
  const until = Date.now() + opts.withinMs;
  let n = exposed();
  while (n < opts.atLeast && Date.now() < until) {
    await sleep(5);
    n = exposed();
  }
  return n;
}

/**
 * Waits until `count()` reaches `total`; gives up after `timeoutMs`, or once
 * nothing new has come for `stallMs`. Logs progress every 10 s. Returns
 * whether everything came, and when the last new one did.
 */
export async function untilComplete(
  count: () => number,
  total: number,
  opts: { timeoutMs: number; stallMs: number; log: Log; what: string },
): Promise<{ complete: boolean; lastProgressAt: number }> {
  const start = Date.now();
  let seen = count();
  let lastProgressAt = Date.now();
  let lastLog = Date.now();
  for (;;) {
    const now = count();
    if (now !== seen) {
      seen = now;
      lastProgressAt = Date.now();
    }
    if (now >= total) return { complete: true, lastProgressAt };
    const t = Date.now();
    if (t - start > opts.timeoutMs || t - lastProgressAt > opts.stallMs) {
      opts.log(`${opts.what}: gave up with ${now}/${total} after ${secs(t - start)} s (${secs(t - lastProgressAt)} s without progress)`);
      return { complete: false, lastProgressAt };
    }
    if (t - lastLog > 10_000) {
      opts.log(`${opts.what}: ${now}/${total}`);
      lastLog = t;
    }
    await sleep(250);
  }
}


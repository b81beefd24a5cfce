/** Many calls at once, the two ways the harness drives load: at most N at a time, or on a fixed schedule. */
import { sleep } from "./waits.ts";

/** Runs `fn` over `items` with at most `width` at a time. */
export async function pool<T>(items: T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/**
 * Runs `fn(i)` for i = 0..n-1 on a fixed schedule, `rate` per second, each
 * one on time whatever happened to the ones before (open loop: a slow answer
 * does not slow the next one down). Resolves when every call has settled.
 */
export async function openLoop(n: number, rate: number, fn: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await sleep(Math.max(0, start + (i * 1000) / rate - performance.now()));
      await fn(i);
    }),
  );
}

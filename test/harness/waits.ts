/** Bounded waits: every wait in the harness ends, with a message that says what it was waiting for. */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or
 * `timeoutMs` passes (then throws, with the last value/error in the message).
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  opts: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? "condition"} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/**
 * A list that grows as things arrive (messages at a peer, SSE events,
 * webhook deliveries), waited on without polling: whoever appends calls
 * `grew()`, and `first()` resolves as soon as a matching item is there.
 */
export class GrowingList<T> {
  readonly #items: () => readonly T[];
  readonly #waiters = new Set<() => void>();

  constructor(items: () => readonly T[]) {
    this.#items = items;
  }

  /** Wakes the waiters: call it after the list grew. */
  grew(): void {
    for (const wake of this.#waiters) wake();
  }

  /** The first item matching `predicate`, there already or still to come; after `timeoutMs`, rejects with `failure()`. */
  first(predicate: (item: T) => boolean, timeoutMs: number, failure: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.#items().find(predicate);
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(failure()));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

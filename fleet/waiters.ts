/**
 * Waiting for a state that events bring about: each waiter is checked again
 * whenever the owner of the state says it changed (`notify`).
 */
import { ProtocolError } from "../shared/protocol.ts";

type Waiter = { check: () => boolean; resolve: () => void };

export class Waiters {
  #waiters = new Set<Waiter>();

  /**
   * Resolves once `check()` holds. Rejects with `not_ready` when `failure()`
   * names a reason first, or after `timeoutMs`.
   */
  waitFor(check: () => boolean, timeoutMs: number, failure: () => string | null = () => null): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => check() || failure() !== null,
        resolve: () => {
          clearTimeout(timer);
          const failed = check() ? null : failure();
          if (failed) reject(new ProtocolError("not_ready", failed));
          else resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new ProtocolError("not_ready", "the socket did not become ready in time"));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** The state changed: waiters whose wait is over settle. */
  notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.check()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

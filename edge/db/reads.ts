/**
 * Reads of several tables in one D1 round trip. Each table's owner module
 * builds its own query and hands it to a `Reads`; the caller runs them all
 * as one batch, then each module reads its rows back. The accept path of a
 * send is the user: its independent lookups (who may be messaged, the
 * recipient cache, the numbers that can send, an Idempotency-Key) cost one
 * trip instead of one each.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client.ts";

export class Reads {
  readonly #queries: BatchItem<"sqlite">[] = [];
  #results: unknown[] | undefined;

  /** Queues a query; what it returns gives the query's result once `run` has been awaited. */
  add<T>(query: BatchItem<"sqlite"> & PromiseLike<T>): () => T {
    if (this.#results) throw new Error("Reads: a query added after the batch ran");
    const index = this.#queries.push(query) - 1;
    return () => {
      if (!this.#results) throw new Error("Reads: a result read before the batch ran");
      return this.#results[index] as T;
    };
  }

  /** Every query added so far, in one batch (none: no round trip). */
  async run(d1: Db): Promise<void> {
    const [first, ...rest] = this.#queries;
    this.#results = first ? await d1.batch([first, ...rest]) : [];
  }
}

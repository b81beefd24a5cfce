/**
 * The number's object's part in receiving a message once. It is not the
 * guarantee (that is the store by WhatsApp id in services/inbound.ts, whose
 * header lists every layer and why it exists); it keeps attempts apart and
 * the announcement single:
 *
 * - in flight: one store per WhatsApp id at a time. A repeat that arrives
 *   while the first is still being stored (over the link and over HTTP at
 *   once, or from two processes) waits for the first's answer and is
 *   answered as a duplicate, instead of racing it to D1 and to the hub.
 *   In memory: a restarted object has nothing in flight.
 * - the ledger: a "stored, not yet announced" mark per message, in the
 *   object's storage, set before the message is stored and cleared once it
 *   is announced. A repeat of a marked message announces it (the first
 *   attempt died in between); any other repeat announces nothing.
 */
import type { Ledger, Received } from "../services/inbound.ts";
import { type InstanceStorage, unannouncedKey } from "./instance-storage.ts";

export class InboundDedup implements Ledger {
  readonly #storage: InstanceStorage;
  readonly #running = new Map<string, Promise<Received>>();

  constructor(storage: InstanceStorage) {
    this.#storage = storage;
  }

  /** Runs `store` for this WhatsApp id, unless a run is in flight: then its answer, as a duplicate. */
  async once(waMessageId: string, store: () => Promise<Received>): Promise<Received> {
    const running = this.#running.get(waMessageId);
    if (running) return { message_id: (await running).message_id, duplicate: true };
    const work = store();
    this.#running.set(waMessageId, work);
    try {
      return await work;
    } finally {
      this.#running.delete(waMessageId);
    }
  }

  async marked(waMessageId: string): Promise<boolean> {
    return (await this.#storage.get(unannouncedKey(waMessageId))) !== undefined;
  }

  async mark(waMessageId: string): Promise<void> {
    await this.#storage.put(unannouncedKey(waMessageId), Date.now());
  }

  async unmark(waMessageId: string): Promise<void> {
    await this.#storage.delete(unannouncedKey(waMessageId));
  }
}

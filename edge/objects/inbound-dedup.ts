/**
 * The number's object's part in receiving a message once. It is not the
 * guarantee (that is the store by WhatsApp id in services/inbound.ts, whose
 * header lists every layer and why it exists); it keeps attempts apart: one
 * store per WhatsApp id at a time. A repeat that arrives while the first is
 * still being stored (over the link and over HTTP at once, or from two
 * processes) waits for the first's answer and is answered as a duplicate,
 * instead of racing it to D1 and to the hub. In memory: a restarted object
 * has nothing in flight. Nothing is stored: whether a message was announced
 * is the event hub's to know (services/events.ts).
 */
import type { Received } from "../services/inbound.ts";

export class InboundDedup {
  readonly #running = new Map<string, Promise<Received>>();

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
}

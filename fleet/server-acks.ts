/**
 * Waiting for WhatsApp's word that it has a message.
 *
 * Baileys' `sendMessage` resolves once the frame is written to the socket,
 * not when WhatsApp has it: a connection that drops right after loses the
 * message while we would have called it sent. The server acknowledges each
 * message with an `<ack class="message" id=...>` node (with an `error`
 * attribute when it refuses it), so a send is done only when that arrives.
 * Without it the edge retries with the same WhatsApp id, which WhatsApp
 * treats as the same message.
 */
import { ProtocolError } from "../shared/protocol.ts";

export type AckNode = { attrs: { id?: string; error?: string } };
/** The part of Baileys' socket emitter the acks come through. */
export type AckSource = { on(event: "CB:ack,class:message", listener: (node: AckNode) => void): unknown };

type Waiter = { resolve: () => void; reject: (err: Error) => void; timer: ReturnType<typeof setTimeout> };

export class ServerAcks {
  #pending = new Map<string, Waiter>();

  constructor(source: AckSource) {
    source.on("CB:ack,class:message", (node) => {
      const id = node.attrs.id;
      const waiter = id ? this.#pending.get(id) : undefined;
      if (!waiter) return;
      this.#settle(id!);
      // 463, 479, ...: WhatsApp refused this message; the edge records why.
      if (node.attrs.error) waiter.reject(new ProtocolError("server_error", node.attrs.error));
      else waiter.resolve();
    });
  }

  /** Call before sending: the ack may come back before `sendMessage` returns. */
  wait(id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(new ProtocolError("send_failed", `no server ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  /** The socket closed: whatever was not acknowledged may not have arrived. */
  failAll(): void {
    for (const [id, waiter] of this.#pending) {
      this.#settle(id);
      waiter.reject(new ProtocolError("not_connected", "the WhatsApp socket closed before the server ack"));
    }
  }

  #settle(id: string): void {
    const waiter = this.#pending.get(id);
    if (waiter) clearTimeout(waiter.timer);
    this.#pending.delete(id);
  }
}

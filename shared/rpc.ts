/**
 * A small request/response peer over any text transport, used by both ends of
 * the edge <-> fleet link. It knows nothing of WebSockets: give it a `send`
 * function and feed it every frame you receive.
 */
import {
  type EventData,
  type EventName,
  Events,
  Methods,
  type MethodName,
  type Params,
  PROTOCOL_VERSION,
  ProtocolError,
  type Result,
  eventFrame,
  parseFrame,
} from "./protocol.ts";
import type { z } from "zod";

type ParsedParams<M extends MethodName> = z.infer<(typeof Methods)[M]["params"]>;

export type MethodHandlers = {
  [M in MethodName]?: (params: ParsedParams<M>) => Promise<Result<M>> | Result<M>;
};
export type EventHandlers = {
  [E in EventName]?: (data: EventData<E>) => void | Promise<void>;
};

export type RpcPeerOptions = {
  send: (text: string) => void;
  methods?: MethodHandlers;
  events?: EventHandlers;
  /** Default time to wait for a response. */
  timeoutMs?: number;
  /**
   * A successful answer nobody waits for (its call timed out, or this peer is
   * new: the object restarted): what it carried may still matter (a send's
   * session writes).
   */
  late?: (result: unknown) => void;
};

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: ReturnType<typeof setTimeout> };

export class RpcPeer {
  #opts: RpcPeerOptions;
  #nextId = 1;
  #pending = new Map<number, Pending>();

  constructor(opts: RpcPeerOptions) {
    this.#opts = opts;
  }

  emit<E extends EventName>(event: E, data: EventData<E>): void {
    this.#opts.send(eventFrame(event, data));
  }

  call<M extends MethodName>(method: M, params: Params<M>, timeoutMs = this.#opts.timeoutMs ?? 30_000): Promise<Result<M>> {
    const id = this.#nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ProtocolError("timeout", `${method} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.#opts.send(JSON.stringify({ v: PROTOCOL_VERSION, t: "req", id, method, params }));
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Feed one received text frame. Throws ProtocolError for frames that are not ours. */
  async receive(text: string): Promise<void> {
    const frame = parseFrame(text);
    if (frame.t === "res") {
      const pending = this.#pending.get(frame.id);
      if (!pending) {
        // Answered after its timeout (or before this peer existed): nothing waits for it, but what it carried may be wanted.
        if (frame.ok) this.#opts.late?.(frame.result);
        return;
      }
      this.#pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (frame.ok) pending.resolve(frame.result);
      else pending.reject(new ProtocolError(frame.error.code, frame.error.message));
      return;
    }
    if (frame.t === "evt") {
      if (!(frame.event in Events)) throw new ProtocolError("unknown_event", frame.event);
      const event = frame.event as EventName;
      const handler = this.#opts.events?.[event] as ((d: unknown) => void | Promise<void>) | undefined;
      if (!handler) throw new ProtocolError("unexpected_event", `${event} is not handled here`);
      const parsed = Events[event].safeParse(frame.data);
      if (!parsed.success) throw new ProtocolError("bad_frame", `${event}: ${parsed.error.message}`);
      await handler(parsed.data);
      return;
    }
    await this.#answer(frame.id, frame.method, frame.params);
  }

  async #answer(id: number, method: string, params: unknown): Promise<void> {
    const reply = (body: object) => this.#opts.send(JSON.stringify({ v: PROTOCOL_VERSION, t: "res", id, ...body }));
    const handler = (method in Methods ? this.#opts.methods?.[method as MethodName] : undefined) as
      | ((p: unknown) => unknown)
      | undefined;
    if (!handler) return reply({ ok: false, error: { code: "unknown_method", message: method } });
    const parsed = Methods[method as MethodName].params.safeParse(params);
    if (!parsed.success) return reply({ ok: false, error: { code: "bad_params", message: parsed.error.message } });
    try {
      reply({ ok: true, result: await handler(parsed.data) });
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : "failed";
      reply({ ok: false, error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }

  /** Rejects every call still waiting, e.g. when the transport closed. */
  failAll(reason: string): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new ProtocolError("closed", reason));
      this.#pending.delete(id);
    }
  }

  get waiting(): number {
    return this.#pending.size;
  }
}

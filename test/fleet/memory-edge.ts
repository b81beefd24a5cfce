/**
 * The edge side of an instance link, in memory: an RpcPeer whose session
 * store is a Map. Enough to unit-test what the fleet sends; the real Durable
 * Object is tested with the edge.
 */
import type { MethodHandlers } from "../../shared/rpc.ts";
import { RpcPeer } from "../../shared/rpc.ts";
import type { MessageStatusEvent, StatusEvent } from "../../shared/protocol.ts";

export type MemoryEdge = {
  /** Give this to the fleet code as its EdgeLink. */
  link: RpcPeer;
  /** The edge's session store: key -> ciphertext. */
  entries: Map<string, string>;
  statuses: StatusEvent[];
  /** `message.status` events (receipts, server verdicts), in order. */
  messageStatuses: MessageStatusEvent[];
  /** Every session.* request the edge received, in order. */
  requests: { method: string; params: unknown }[];
  /** Lets the fleet side answer operator commands (restart, logout...). */
  serve(methods: MethodHandlers): void;
  /** The edge calling the fleet, as an operator command would. */
  edge: RpcPeer;
  released: number;
};

export function memoryEdge(existing?: Map<string, string>): MemoryEdge {
  const entries = existing ?? new Map<string, string>();
  const statuses: StatusEvent[] = [];
  const messageStatuses: MessageStatusEvent[] = [];
  const requests: { method: string; params: unknown }[] = [];
  const fleetMethods: MethodHandlers = {};
  let released = 0;
  // Frames cross on a later microtask, as they would over a socket.
  const edge: RpcPeer = new RpcPeer({
    send: (text) => queueMicrotask(() => void link.receive(text)),
    methods: {
      "session.get": ({ keys }) => {
        requests.push({ method: "session.get", params: { keys } });
        return { values: Object.fromEntries(keys.map((k) => [k, entries.get(k) ?? null])) };
      },
      "session.set": ({ entries: batch }) => {
        requests.push({ method: "session.set", params: { entries: batch } });
        for (const [k, v] of Object.entries(batch)) {
          if (v === null) entries.delete(k);
          else entries.set(k, v);
        }
        return { written: Object.keys(batch).length };
      },
      "session.clear": () => {
        requests.push({ method: "session.clear", params: {} });
        const cleared = entries.size;
        entries.clear();
        return { cleared };
      },
    },
    events: {
      status: (status) => void statuses.push(status),
      release: () => void released++,
      "message.status": (event) => void messageStatuses.push(event),
    },
  });
  const link: RpcPeer = new RpcPeer({
    send: (text) => queueMicrotask(() => void edge.receive(text)),
    methods: fleetMethods,
  });
  return {
    link,
    entries,
    statuses,
    messageStatuses,
    requests,
    edge,
    serve: (methods) => Object.assign(fleetMethods, methods),
    get released() {
      return released;
    },
  };
}

/** Resolves once `check` passes, polling; fails the test after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The edge side of an instance link, in memory: an RpcPeer whose session
 * store is a Map. Enough to unit-test what the fleet sends; the real Durable
 * Object is tested with the edge.
 */
import { type Contact, initAuthCreds } from "@whiskeysockets/baileys";
import type { SessionCipher } from "../../fleet/cipher.ts";
import { CREDS_KEY, sealValue } from "../../fleet/session-store.ts";
import type { MethodHandlers } from "../../shared/rpc.ts";
import { RpcPeer } from "../../shared/rpc.ts";
import {
  type InboundMessage,
  type IncomingCall,
  type LidMapping,
  type MessageStatusEvent,
  type Params,
  type PresenceUpdate,
  ProtocolError,
  type Result,
  type RpcError,
  type StatusEvent,
} from "../../shared/protocol.ts";

/** What the receive path sent, in the order the edge got it. */
export type Arrival =
  | { kind: "lid.mappings"; mappings: LidMapping[] }
  | { kind: "message.received"; message: InboundMessage; answered: "stored" | "duplicate" | "error" | "lost" };

/**
 * What the next `message.received` calls meet, one entry per call: an error
 * answer, or the link dropping right after the edge stored the message (the
 * answer is lost; the link stays down until `restore()`).
 */
export type ReceivedFault = { error: RpcError } | "lose_answer";

export type MemoryEdge = {
  /** Give this to the fleet code as its EdgeLink. */
  link: RpcPeer;
  /** The edge's session store: key -> ciphertext. */
  entries: Map<string, string>;
  statuses: StatusEvent[];
  /** `message.status` events (receipts, server verdicts), in order. */
  messageStatuses: MessageStatusEvent[];
  /** `presence.update` events: what the number heard of people's presence, in order. */
  presences: PresenceUpdate[];
  /** `socket.silent` reports: how long each replaced socket had been silent, in ms. */
  silentSockets: number[];
  /** Every session.* request the edge received, in order. */
  requests: { method: string; params: unknown }[];
  /** Lets the fleet side answer operator commands (restart, logout...). */
  serve(methods: MethodHandlers): void;
  /** The edge calling the fleet, as an operator command would. */
  edge: RpcPeer;
  released: number;
  /** Everything `lid.mappings` and `message.received` brought, in order of arrival. */
  arrivals: Arrival[];
  /** Messages the edge stored, once each, by WhatsApp id. */
  stored: Map<string, InboundMessage>;
  receivedFaults: ReceivedFault[];
  /** Answers `media.upload_url`; unset, the edge has nowhere to put files (`media_unavailable`). */
  uploadTarget: ((params: Params<"media.upload_url">) => Result<"media.upload_url">) | null;
  uploadRequests: Params<"media.upload_url">[];
  /** Every `call.received` the edge got, repeats included, in order. */
  calls: IncomingCall[];
  /** Drops the link: calls in flight fail as `closed`, frames go nowhere until `restore()`. */
  cut(): void;
  restore(): void;
};

export function memoryEdge(existing?: Map<string, string>): MemoryEdge {
  const entries = existing ?? new Map<string, string>();
  const statuses: StatusEvent[] = [];
  const messageStatuses: MessageStatusEvent[] = [];
  const silentSockets: number[] = [];
  const presences: PresenceUpdate[] = [];
  const requests: { method: string; params: unknown }[] = [];
  const fleetMethods: MethodHandlers = {};
  let released = 0;
  let down = false;
  const arrivals: Arrival[] = [];
  const stored = new Map<string, InboundMessage>();
  const receivedFaults: ReceivedFault[] = [];
  const uploadRequests: Params<"media.upload_url">[] = [];
  const calls: IncomingCall[] = [];
  const cut = () => {
    down = true;
    link.failAll("memory link cut");
  };
  // Frames cross on a later microtask, as they would over a socket; a cut link carries nothing.
  const edge: RpcPeer = new RpcPeer({
    send: (text) => {
      if (!down) queueMicrotask(() => void link.receive(text));
    },
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
      "message.received": (message) => {
        const fault = receivedFaults.shift();
        const arrival: Arrival = { kind: "message.received", message, answered: "stored" };
        arrivals.push(arrival);
        if (fault && fault !== "lose_answer") {
          arrival.answered = "error";
          throw new ProtocolError(fault.error.code, fault.error.message);
        }
        const duplicate = stored.has(message.wa_message_id);
        if (!duplicate) stored.set(message.wa_message_id, message);
        arrival.answered = duplicate ? "duplicate" : "stored";
        if (fault === "lose_answer") {
          arrival.answered = "lost";
          cut();
        }
        return { message_id: `msg_${message.wa_message_id}`, duplicate };
      },
      "call.received": (call) => {
        const duplicate = calls.some((c) => c.call_id === call.call_id);
        calls.push(call);
        return { rejected: false, message_id: null, duplicate };
      },
      "media.upload_url": (params) => {
        uploadRequests.push(params);
        if (!result.uploadTarget) throw new ProtocolError("media_unavailable", "no bucket in this test");
        return result.uploadTarget(params);
      },
    },
    events: {
      status: (status) => void statuses.push(status),
      release: () => void released++,
      "message.status": (event) => void messageStatuses.push(event),
      "socket.silent": ({ silent_ms }) => void silentSockets.push(silent_ms),
      "presence.update": (update) => void presences.push(update),
      "lid.mappings": ({ mappings }) => void arrivals.push({ kind: "lid.mappings", mappings }),
    },
  });
  const link: RpcPeer = new RpcPeer({
    send: (text) => {
      if (down) throw new ProtocolError("closed", "memory link is down");
      queueMicrotask(() => void edge.receive(text));
    },
    methods: fleetMethods,
  });
  const result: MemoryEdge = {
    link,
    entries,
    statuses,
    messageStatuses,
    presences,
    silentSockets,
    requests,
    edge,
    serve: (methods) => Object.assign(fleetMethods, methods),
    get released() {
      return released;
    },
    arrivals,
    stored,
    receivedFaults,
    uploadTarget: null,
    uploadRequests,
    calls,
    cut,
    restore: () => {
      down = false;
    },
  };
  return result;
}

/** Resolves once `check` passes, polling; fails the test after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The edge's session store for a number paired as `me`: its creds, sealed as the fleet seals them. */
export function pairedSession(cipher: SessionCipher, instanceId: string, me: Contact): Map<string, string> {
  const creds = initAuthCreds();
  creds.me = me;
  creds.registered = true;
  return new Map([[CREDS_KEY, sealValue(cipher, instanceId, CREDS_KEY, creds)]]);
}

/**
 * The WebSocket between the fleet and one instance's Durable Object: the RPC
 * link the number's commands, session and events travel on, and the lease it
 * carries.
 *
 * Holding this socket open is holding the lease on the number. The one rule
 * that must never break: two processes must never run WhatsApp sockets for
 * the same number at once (WhatsApp would kick both, 440, and can flag the
 * number). So we keep our own, pessimistic, clock of the lease
 * (lease-clock.ts): when it runs out by our count, the lease counts as lost
 * ("fenced"), the owner kills the WhatsApp socket at once, and we reconnect
 * to acquire the lease anew.
 *
 * A link that drops for any other reason (edge deploy, network blip) is
 * reopened at once while the WhatsApp socket keeps running: the lease is
 * re-entrant for our fleet_id, and the fence still kills the socket if the
 * renewal does not come back in time.
 *
 * Calls made while the link is down wait for it and go out when it is back,
 * in order. They belong to a lease "epoch": once the lease is lost, calls
 * still waiting fail instead of writing a dead socket's session over what
 * the next holder may have written.
 */
import type WebSocket from "ws";
import type { Logger } from "pino";
import {
  CloseCode,
  type EventData,
  type EventName,
  type LeaseDenied,
  type LeaseGranted,
  type MethodName,
  PING,
  PONG,
  PROTOCOL_VERSION,
  type Params,
  ProtocolError,
  type Result,
  type StatusEvent,
} from "../shared/protocol.ts";
import { type MethodHandlers, RpcPeer } from "../shared/rpc.ts";
import { backoffDelay } from "./close-codes.ts";
import { type EdgeLink, closeSocket, edgeSocketUrl, openEdgeSocket } from "./edge-link.ts";
import { LeaseClock } from "./lease-clock.ts";

export type LeaseLoss = "fenced" | "held_elsewhere";
export type LinkEnd = "deleted" | "revoked" | "bad_version";

export type InstanceLinkOptions = {
  edgeUrl: string;
  token: string;
  fleetId: string;
  instanceId: string;
  logger: Logger;
  /** The lease is ours: first grant, or granted again after the link reconnected. */
  onGranted(grant: LeaseGranted): void;
  /** The lease may be someone else's now: kill the WhatsApp socket immediately. */
  onLost(why: LeaseLoss): void;
  /** The edge dropped the instance for good (deleted, revoked): stop and forget it. */
  onEnded(why: LinkEnd): void;
  openSocket?: (url: string, token: string) => WebSocket;
  now?: () => number;
  /** Protocol constants; only tests change them, to watch a fence happen in a second. */
  pingIntervalMs?: number;
  fenceMarginMs?: number;
};

/** Quick retries while the lease still holds: the fence leaves ~12 s to get it back. */
const RECONNECT = { baseMs: 250, maxMs: 5_000 };
/**
 * One-off facts nobody will tell again (receipts, LID pairs, a replaced silent socket): kept
 * while the link is down and sent after the next grant, before any call
 * waiting for the link, so LID pairs reach the edge before the messages
 * they belong to. Older ones give way first.
 */
const ONE_OFF_EVENTS = new Set<EventName>(["message.status", "lid.mappings", "socket.silent"]);
const MAX_PENDING_EVENTS = 1_000;
/** Used when a denial does not say when to retry. */
const DEFAULT_RETRY_AFTER_MS = 5_000;

type Waiter = { epoch: number; resolve: () => void; reject: (err: Error) => void };

export class InstanceLink implements EdgeLink {
  readonly instanceId: string;
  #opts: InstanceLinkOptions;
  #now: () => number;
  #peer: RpcPeer;
  #methods: MethodHandlers = {};
  #clock: LeaseClock;

  #ws: WebSocket | null = null;
  #connectStartedAt = 0;
  /** The current socket has a grant: frames can flow. */
  #granted = false;
  #epoch = 0;
  #waiters: Waiter[] = [];
  #lastStatus: StatusEvent | null = null;
  /** One-off events that came while the link was down: sent after the next grant. */
  #pendingEvents: { event: EventName; data: unknown }[] = [];
  #retryAfterMs: number | null = null;
  #attempt = 0;
  #closed = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Told when the link is back with the lease still ours, before the calls that waited for it. */
  #onRenewed = new Set<() => void>();

  constructor(opts: InstanceLinkOptions) {
    this.instanceId = opts.instanceId;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#clock = new LeaseClock({
      now: this.#now,
      onFence: (sinceConfirmedMs) => this.#fence(sinceConfirmedMs),
      pingIntervalMs: opts.pingIntervalMs,
      fenceMarginMs: opts.fenceMarginMs,
    });
    this.#peer = new RpcPeer({
      send: (text) => {
        const ws = this.#ws;
        if (!ws || ws.readyState !== ws.OPEN) throw new ProtocolError("closed", "instance link is down");
        ws.send(text);
      },
      methods: this.#methods,
      events: {
        "lease.granted": (grant) => this.#onGranted(grant),
        "lease.denied": (denied) => this.#onDenied(denied),
      },
    });
  }

  /** Which operator commands to answer; set once the connection manager exists. */
  serve(methods: MethodHandlers): void {
    Object.assign(this.#methods, methods);
  }

  start(): void {
    this.#connect();
  }

  /** True while we hold the lease by our own (pessimistic) count. */
  get leaseHeld(): boolean {
    return this.#clock.held;
  }

  /** The link is up and granted: a call made now goes out at once. */
  get granted(): boolean {
    return this.#granted;
  }

  /**
   * `listener` runs each time the link is granted again while the lease was
   * still ours, before any call that waited for the link goes out, so a call
   * it makes is the first frame on the new link. Returns the unsubscribe.
   */
  onRenewed(listener: () => void): () => void {
    this.#onRenewed.add(listener);
    return () => this.#onRenewed.delete(listener);
  }

  async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    const epoch = this.#epoch;
    for (;;) {
      await this.#ready(epoch);
      try {
        return await this.#peer.call(method, params);
      } catch (err) {
        // The link dropped under the call. The fleet only calls idempotent
        // session methods, so sending it again on the next link is safe.
        if (err instanceof ProtocolError && err.code === "closed" && !this.#closed) continue;
        throw err;
      }
    }
  }

  emit<E extends EventName>(event: E, data: EventData<E>): void {
    // The latest status is sent again after every (re)grant, so the edge
    // never keeps a state from before a link drop.
    if (event === "status") this.#lastStatus = data as StatusEvent;
    if (this.#granted) {
      try {
        this.#peer.emit(event, data);
        return;
      } catch (err) {
        this.#opts.logger.debug({ err: String(err), event }, "event not sent");
      }
    }
    if (ONE_OFF_EVENTS.has(event) && !this.#closed) {
      this.#pendingEvents.push({ event, data });
      if (this.#pendingEvents.length > MAX_PENDING_EVENTS) this.#pendingEvents.shift();
    }
  }

  /** Lets go of the instance: `release` (if we hold it), then close. Call after the WhatsApp socket ended. */
  async close({ release = true }: { release?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const ws = this.#ws;
    if (ws && this.#granted && release) {
      try {
        this.#peer.emit("release", {});
      } catch {
        // the link is going away either way
      }
    }
    this.#shutDown();
    if (ws) await closeSocket(ws, CloseCode.normal, "release");
  }

  // ------------------------------------------------------------ socket

  #connect(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    const url = edgeSocketUrl(this.#opts.edgeUrl, `/fleet/instances/${encodeURIComponent(this.instanceId)}/connect`, {
      fleet_id: this.#opts.fleetId,
      v: String(PROTOCOL_VERSION),
    });
    // Taken before the request leaves: the edge grants no earlier than this,
    // so counting the lease from here errs on the safe side.
    this.#connectStartedAt = this.#now();
    this.#retryAfterMs = null;
    const ws = (this.#opts.openSocket ?? openEdgeSocket)(url, this.#opts.token);
    this.#ws = ws;
    ws.on("message", (data, isBinary) => {
      if (ws !== this.#ws || isBinary) return;
      void this.#onFrame(data.toString());
    });
    let error: string | null = null;
    ws.on("close", (code, reason) => {
      if (ws === this.#ws) this.#onClose(code, reason.toString(), error);
    });
    ws.on("error", (err) => {
      // Said with the close it causes, in one line.
      error = err.message;
      this.#opts.logger.debug({ err: err.message }, "instance link error");
    });
  }

  async #onFrame(text: string): Promise<void> {
    if (text === PONG) return this.#clock.ponged();
    if (text === PING) return; // only the edge answers pings
    try {
      await this.#peer.receive(text);
    } catch (err) {
      this.#opts.logger.warn({ err: String(err) }, "bad frame on instance link");
    }
  }

  #onGranted(grant: LeaseGranted): void {
    const renewed = this.#clock.held;
    this.#granted = true;
    this.#attempt = 0;
    this.#clock.granted(grant.ttl_ms, this.#connectStartedAt, () => this.#ws);
    this.#opts.logger.info({ renewed, ttl_ms: grant.ttl_ms }, "lease granted");
    // Its call's wait for the link ends before any waiter's: it was resolved first.
    if (renewed) for (const listener of this.#onRenewed) listener();
    // Calls that waited for the link go out first, in the order they were made.
    const waiting = this.#waiters.splice(0);
    for (const waiter of waiting) waiter.resolve();
    if (this.#lastStatus) this.emit("status", this.#lastStatus);
    for (const pending of this.#pendingEvents.splice(0)) this.emit(pending.event, pending.data as EventData<EventName>);
    this.#opts.onGranted(grant);
  }

  #onDenied(denied: LeaseDenied): void {
    this.#retryAfterMs = denied.retry_after_ms;
    this.#opts.logger.info({ holder: denied.holder, retry_after_ms: denied.retry_after_ms }, "lease denied");
  }

  #onClose(code: number, reason: string, error: string | null): void {
    this.#ws = null;
    this.#granted = false;
    this.#clock.stopPinging();
    this.#peer.failAll(`instance link closed (${code})`);
    if (this.#closed) return;
    this.#opts.logger[error ? "warn" : "info"]({ code, reason, ...(error ? { err: error } : {}), lease_held: this.#clock.held }, "instance link closed");
    switch (code) {
      case CloseCode.deleted:
        return this.#end("deleted");
      case CloseCode.revoked:
        return this.#end("revoked");
      case CloseCode.badVersion:
        this.#opts.logger.error("edge speaks another protocol version; instance stopped");
        return this.#end("bad_version");
      case CloseCode.leaseHeld: {
        // Someone else holds it, so whatever we thought, it is not ours.
        if (this.#clock.held) this.#loseLease("held_elsewhere");
        const wait = this.#retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
        return this.#reconnectIn(wait + Math.round(Math.random() * 500));
      }
      default: {
        const delay = this.#attempt === 0 ? 0 : backoffDelay(this.#attempt - 1, RECONNECT);
        this.#attempt++;
        return this.#reconnectIn(delay);
      }
    }
  }

  #reconnectIn(ms: number): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), ms);
  }

  // ------------------------------------------------------------ lease

  /** The lease ran out by our count. */
  #fence(sinceConfirmedMs: number): void {
    if (this.#closed) return;
    this.#opts.logger.warn({ since_confirmed_ms: sinceConfirmedMs }, "lease not renewed in time, fencing");
    this.#loseLease("fenced");
    // The lease must be acquired anew: a socket that stopped getting pongs
    // may be half dead, so start over on a fresh one.
    const ws = this.#ws;
    if (ws) {
      this.#ws = null;
      this.#granted = false;
      this.#clock.stopPinging();
      this.#peer.failAll("instance link fenced");
      ws.removeAllListeners("message");
      ws.removeAllListeners("close");
      ws.on("error", () => {}); // a late error from the abandoned socket is expected
      ws.terminate();
    }
    this.#reconnectIn(0);
  }

  #loseLease(why: LeaseLoss): void {
    this.#clock.release();
    this.#epoch++;
    this.#rejectWaiters(new ProtocolError("lease_lost", "the lease was lost before this call could be sent"));
    this.#opts.onLost(why);
  }

  // ------------------------------------------------------------ waiting calls

  #ready(epoch: number): Promise<void> {
    if (this.#closed) return Promise.reject(new ProtocolError("stopped", "instance link closed"));
    if (epoch !== this.#epoch) {
      return Promise.reject(new ProtocolError("lease_lost", "the lease was lost before this call could be sent"));
    }
    if (this.#granted) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ epoch, resolve, reject }));
  }

  #rejectWaiters(err: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
  }

  #end(why: LinkEnd): void {
    this.#shutDown();
    this.#clock.release();
    this.#opts.onEnded(why);
  }

  #shutDown(): void {
    this.#closed = true;
    this.#granted = false;
    this.#clock.stopPinging();
    this.#clock.disarm();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#rejectWaiters(new ProtocolError("stopped", "instance link closed"));
    this.#peer.failAll("instance link closed");
  }
}

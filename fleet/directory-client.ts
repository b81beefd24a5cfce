/**
 * The fleet's link to the FleetDirectory, which decides which instances this
 * process runs.
 *
 * The directory is the only scheduler: we say `hello` (who we are, how many
 * we can take), then do what `assign` and `revoke` say. When this link drops
 * (edge deploy, network), running instances keep running on their own
 * instance links; we reconnect with backoff and say hello again, and the
 * directory re-assigns what we should have.
 */
import type WebSocket from "ws";
import type { Logger } from "pino";
import { backoffDelay } from "./close-codes.ts";
import { type Hello, PING, PING_INTERVAL_MS, PONG, LEASE_TTL_MS } from "../shared/protocol.ts";
import { RpcPeer } from "../shared/rpc.ts";
import { closeSocket, edgeSocketUrl, openEdgeSocket } from "./edge-link.ts";

export type DirectoryClientOptions = {
  edgeUrl: string;
  token: string;
  hello: Hello;
  logger: Logger;
  /**
   * `complete` is true for the first assign after each hello: the directory's
   * whole list for us, so anything we run that is not on it moved elsewhere
   * while we were away.
   */
  onAssign(instanceIds: string[], complete: boolean): void;
  onRevoke(instanceIds: string[]): void;
  openSocket?: (url: string, token: string) => WebSocket;
};

/** An edge restart takes seconds: retry soon, but never hammer it. */
const RECONNECT = { baseMs: 500, maxMs: 15_000 };
/** No pong for this long: the link is dead even if TCP has not noticed. */
const SILENCE_LIMIT_MS = LEASE_TTL_MS;

export class DirectoryClient {
  #opts: DirectoryClientOptions;
  #peer: RpcPeer;
  #ws: WebSocket | null = null;
  #attempt = 0;
  #lastHeardAt = 0;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #awaitingList = false;

  constructor(opts: DirectoryClientOptions) {
    this.#opts = opts;
    this.#peer = new RpcPeer({
      send: (text) => {
        if (this.#ws?.readyState === this.#ws?.OPEN) this.#ws?.send(text);
      },
      events: {
        assign: ({ instance_ids }) => {
          const complete = this.#awaitingList;
          this.#awaitingList = false;
          opts.onAssign(instance_ids, complete);
        },
        revoke: ({ instance_ids }) => opts.onRevoke(instance_ids),
      },
    });
  }

  start(): void {
    this.#connect();
  }

  get connected(): boolean {
    return this.#ws !== null && this.#ws.readyState === this.#ws.OPEN;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopPinging();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) await closeSocket(ws, 1000, "fleet draining");
  }

  #connect(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    const ws = (this.#opts.openSocket ?? openEdgeSocket)(edgeSocketUrl(this.#opts.edgeUrl, "/fleet/connect"), this.#opts.token);
    this.#ws = ws;
    let error: string | null = null;
    ws.on("open", () => {
      if (ws !== this.#ws) return;
      this.#attempt = 0;
      this.#lastHeardAt = Date.now();
      this.#awaitingList = true;
      this.#peer.emit("hello", this.#opts.hello);
      this.#startPinging(ws);
      this.#opts.logger.info("directory connected");
    });
    ws.on("message", (data, isBinary) => {
      if (ws !== this.#ws || isBinary) return;
      this.#lastHeardAt = Date.now();
      const text = data.toString();
      if (text === PONG || text === PING) return;
      this.#peer.receive(text).catch((err: unknown) => this.#opts.logger.warn({ err: String(err) }, "bad frame from directory"));
    });
    ws.on("close", (code, reason) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      this.#stopPinging();
      if (this.#closed) return;
      const delay = backoffDelay(this.#attempt++, RECONNECT);
      // One line per attempt: the error (ECONNREFUSED, ...) that closed the link is in it.
      this.#opts.logger.warn({ code, reason: reason.toString(), ...(error ? { err: error } : {}), retry_in_ms: delay }, "directory link closed");
      this.#retryTimer = setTimeout(() => this.#connect(), delay);
    });
    ws.on("error", (err) => {
      error = err.message;
      this.#opts.logger.debug({ err: err.message }, "directory link error");
    });
  }

  #startPinging(ws: WebSocket): void {
    this.#stopPinging();
    this.#pingTimer = setInterval(() => {
      if (Date.now() - this.#lastHeardAt > SILENCE_LIMIT_MS) {
        this.#opts.logger.warn("directory silent, reconnecting");
        ws.terminate(); // the close handler schedules the reconnect
        return;
      }
      if (ws.readyState === ws.OPEN) ws.send(PING);
    }, PING_INTERVAL_MS);
  }

  #stopPinging(): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }
}

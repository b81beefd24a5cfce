/**
 * The connection manager for one instance: one WhatsApp number, one Baileys
 * socket at a time.
 *
 * It runs a socket only while two things hold: the instance's lease (told by
 * the instance link through `leaseGranted` / `leaseLost`) and the wish to run
 * (cleared by a logout, a ban or `stop`). Everything else follows Baileys'
 * `connection.update` events:
 *
 *   lease granted -> load creds from the edge -> makeWASocket
 *     qr          -> status qr_pending (with a PNG for the dashboard)
 *     connecting  -> status connecting
 *     open        -> status connected
 *     close       -> classifyClose: logged_out (wipe, stop), banned (stop),
 *                    transient (reconnect after a backoff that depends on why)
 *     silent      -> (liveness.ts) dropped without a handshake, counted, transient
 *   QRs nobody scans -> after `qrLimit` of them, pairing_expired (stop)
 *
 * Sockets we end ourselves (restart, lease lost, drain) are detached first by
 * bumping `#generation`: events from an older generation are ignored, so an
 * intentional end is never mistaken for a drop to recover from.
 *
 * Received messages are not: whatever a socket heard goes to the process's
 * inbound spool through the instance's InboundReceiver (inbound-receiver.ts),
 * which outlives sockets, before WhatsApp is told we have it.
 *
 * The layers above the lifecycle (pairing, sending, queries, receiving) and
 * the table of the edge's commands to them are number-layers.ts.
 */
import type { AuthenticationCreds, ConnectionState, WAMessage } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { classifyClose } from "./close-codes.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import { type LeaseGranted, ProtocolError, type StatusEvent } from "../shared/protocol.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import type { ReconnectCounter } from "./metrics.ts";
import { selfOf } from "./inbound-receiver.ts";
import { SilenceWatch, hardClose, silentClose } from "./liveness.ts";
import { type LayerOptions, NumberLayers } from "./number-layers.ts";
import { redactProxyUrl } from "./proxy.ts";
import { type ReconnectCause, type ReconnectDelay, ReconnectSchedule } from "./reconnect.ts";
import { CREDS_KEY, type SessionStore, sealValue } from "./session-store.ts";
import { closeCodeOf, emptyStatus, statusFromConnectionUpdate } from "./statuses.ts";
import { type NumberSocket, type SocketLike, type SocketOptions, type SocketSettings, type Sockets, endNumberSocket, logOutNumberSocket, makeNumberSocket, socketSettings } from "./wa-socket.ts";

/** One number's socket settings (wa-socket.ts), and what the layers above it need (number-layers.ts). */
export type ConnectionManagerOptions = Omit<SocketOptions, "link"> &
  LayerOptions & {
    /** Backoff jitter source (tests pin it). */
    random?: () => number;
    /** Told of each reconnect after a close (the process's metrics). */
    reconnects?: ReconnectCounter;
  };

export class ConnectionManager {
  readonly instanceId: string;
  /** The layers above the lifecycle: they outlive its sockets. */
  readonly layers: NumberLayers;
  /** Operator commands the edge can call on this instance: the lifecycle's, then each layer's. */
  readonly methods: MethodHandlers;

  #link: EdgeLink;
  #logger: Logger;
  #settings: SocketSettings;
  #reconnects: ReconnectSchedule;
  #counter: ReconnectCounter | undefined;

  #wantRunning = true;
  #leased = false;
  #proxyUrl: string | null = null;
  #generation = 0;
  #starting = false;
  #sock: SocketLike | null = null;
  #store: SessionStore | null = null;
  #status: StatusEvent = emptyStatus("disconnected");
  #silence: SilenceWatch;
  /** Sockets this process replaced for silence (the edge keeps the number's total). */
  #silentSockets = 0;

  constructor(opts: ConnectionManagerOptions) {
    const { instanceId, link, logger } = opts;
    this.instanceId = instanceId;
    this.#link = link;
    this.#logger = logger;
    this.#settings = socketSettings(opts);
    this.#reconnects = new ReconnectSchedule({ random: opts.random ?? Math.random, logger });
    this.#counter = opts.reconnects;
    this.#silence = new SilenceWatch({ silenceMs: this.#settings.silenceMs, onSilent: (ms) => this.#onSilent(ms) });
    const sockets: Sockets = {
      current: () => this.#sock,
      open: () => {
        if (this.#sock && this.#status.state === "connected") return this.#sock;
        throw new ProtocolError("not_connected", `the number is ${this.#status.state}`);
      },
      isOpen: (sock) => this.#sock === sock && this.#status.state === "connected",
      store: (sock) => (this.#sock === sock ? this.#store : null),
    };
    this.layers = new NumberLayers(opts, {
      sockets,
      pairing: {
        paired: () => this.#isPaired(),
        current: () => this.#sock,
        run: () => this.#run(),
        restartWith: (creds) => this.#restartWith(creds),
      },
      restart: () => this.restart(),
      logout: () => this.logout(),
    });
    this.methods = this.layers.methods;
  }

  get status(): StatusEvent {
    return this.#status;
  }

  /** True while a Baileys socket exists (open or still handshaking). */
  get running(): boolean {
    return this.#sock !== null;
  }

  // ------------------------------------------------------------ lease

  /** The lease is ours (first grant, or re-granted after the link reconnected). */
  leaseGranted(grant: LeaseGranted): void {
    const proxyUrl = grant.config.proxy_url ?? null;
    const proxyChanged = this.#proxyUrl !== proxyUrl;
    this.#proxyUrl = proxyUrl;
    this.#leased = true;
    if (grant.config.parked && !this.#sock && !this.#starting) {
      // Parked at the edge (logged out, banned, pairing expired): a new holder must not undo that by itself.
      this.#logger.info({ reason: grant.config.parked }, "instance parked, not connecting until asked");
      this.#wantRunning = false;
      this.#reconnects.clear();
    }
    if (this.#sock && proxyChanged) {
      // A socket keeps the agent it was made with; a new proxy needs a new socket.
      this.#logger.info({ proxy: redactProxyUrl(proxyUrl) }, "proxy changed, restarting socket");
      void this.#endSocket().then(() => this.#start());
      return;
    }
    if (!this.#sock && !this.#reconnects.pending) void this.#start();
  }

  /** The lease may no longer be ours: the socket must die now, before anyone else's can start. */
  leaseLost(): void {
    if (!this.#leased) return;
    this.#leased = false;
    const hadSocket = this.#sock !== null || this.#starting;
    void this.#endSocket();
    if (hadSocket) {
      this.#logger.warn("lease lost, socket ended");
      this.#setStatus(emptyStatus("disconnected"), "transient");
    }
  }

  /** Ends the socket without logging out (revoke, drain); waits for queued session writes. Received messages wait in the spool. */
  async stop(): Promise<void> {
    this.#wantRunning = false;
    this.#leased = false;
    await this.#endSocket();
  }

  /** The open socket's way to ask a sender's phone for a file WhatsApp no longer serves, if there is a socket. */
  mediaReupload(): ((message: WAMessage) => Promise<WAMessage>) | undefined {
    return this.#sock?.updateMediaMessage?.bind(this.#sock);
  }

  // ------------------------------------------------------------ commands

  async restart(): Promise<Record<string, never>> {
    this.#logger.info("restart requested");
    this.#wantRunning = true;
    this.#reconnects.resetBackoff();
    this.#reconnects.resetImmediate();
    this.layers.pairing.renewQrs();
    await this.#endSocket();
    // Said before the reply, so the API's answer to the restart already shows it.
    this.#setStatus({ ...this.#status, state: "connecting", reason: null, qr: null, qr_png: null });
    void this.#start();
    return {};
  }

  async logout(): Promise<Record<string, never>> {
    this.#logger.info("logout requested");
    this.#wantRunning = false;
    const wasConnected = this.#status.state === "connected";
    const detached = this.#detach();
    if (detached.sock && wasConnected) await logOutNumberSocket(detached.sock, this.#logger);
    await endNumberSocket(detached, this.#logger);
    await this.#link.call("session.clear", {});
    this.#setStatus({ ...emptyStatus("disconnected"), reason: "logged_out", close_code: 401 });
    return {};
  }

  // ------------------------------------------------------------ for pairing.ts

  #run(): void {
    if (this.#wantRunning && (this.#sock || this.#starting)) return;
    this.#wantRunning = true;
    this.#reconnects.clear();
    void this.#start();
  }

  async #restartWith(creds: AuthenticationCreds): Promise<void> {
    await this.#endSocket();
    await this.#link.call("session.clear", {});
    await this.#link.call("session.set", { entries: { [CREDS_KEY]: sealValue(this.#settings.cipher, this.instanceId, CREDS_KEY, creds) } });
    this.#wantRunning = true;
    this.#reconnects.resetBackoff();
    this.layers.pairing.renewQrs();
    this.#setStatus({ ...emptyStatus("connecting"), jid: creds.me?.id ?? null });
    void this.#start();
  }

  // ------------------------------------------------------------ socket lifecycle

  async #start(): Promise<void> {
    this.#reconnects.clear();
    if (!this.#leased || !this.#wantRunning || this.#sock || this.#starting) return;
    const generation = ++this.#generation;
    this.#starting = true;
    let made: NumberSocket | null = null;
    try {
      made = await makeNumberSocket(this.#settings, {
        proxyUrl: this.#proxyUrl,
        beforeMessageAck: (msg, type, sock) => this.layers.inbound.beforeAck(msg, type, selfOf(sock)),
        // Stopped or restarted while the session and the proxy were being readied.
        stale: () => generation !== this.#generation,
      });
      if (!made) return;
      const { sock, store } = made;
      this.#sock = sock;
      this.layers.sender.attach(sock);
      this.#silence.watch(sock.ws);
      this.#store = store;
      sock.ev.on("creds.update", () => {
        if (generation !== this.#generation) return;
        store.saveCreds().catch((err: unknown) => this.#logger.error({ err: errorText(err) }, "saving creds failed"));
      });
      sock.ev.on("connection.update", (update) => void this.#onUpdate(generation, sock, update));
      this.layers.inbound.attach(sock);
      this.layers.signals.attach(sock);
      this.layers.groups.attach(sock);
      this.layers.calls.attach(sock);
      this.#logger[this.#reconnects.retrying ? "debug" : "info"](
        { fresh: store.fresh, version: this.#settings.versions.current().join("."), proxy: redactProxyUrl(this.#proxyUrl) },
        "socket started",
      );
      this.layers.pairing.socketStarted();
    } catch (err) {
      made?.store.close();
      if (generation !== this.#generation) return;
      this.#logger.error({ err: errorText(err) }, "socket could not start");
      this.#scheduleReconnect("backoff", { err: errorText(err) });
    } finally {
      if (generation === this.#generation) this.#starting = false;
    }
  }

  async #onUpdate(generation: number, sock: SocketLike, update: Partial<ConnectionState>): Promise<void> {
    if (generation !== this.#generation) return;
    let qrPng: string | null = null;
    if (update.qr) {
      // A new QR means the last one went unscanned.
      if (this.layers.pairing.outOfQrs) return this.#expirePairing();
      qrPng = await this.layers.pairing.drawQr(update.qr);
      // The socket may have closed while the PNG was drawn; a late QR must not
      // overwrite the disconnected status.
      if (generation !== this.#generation || this.#sock !== sock) return;
      this.layers.pairing.qrOffered(sock);
    }
    if (update.connection === "close") return this.#onClose(update);
    if (update.connection === "open") {
      this.#reconnects.opened();
      this.layers.pairing.renewQrs();
    }
    const status = statusFromConnectionUpdate(update, { user: sock.user, qrPng });
    if (status) this.#setStatus(status);
  }

  async #onClose(update: Partial<ConnectionState>): Promise<void> {
    const code = closeCodeOf(update);
    const action = classifyClose(code);
    // Read before the socket is let go: a QR scanned just now closes with 515, paired, and must reconnect.
    const unpairedOutOfQrs = !this.#isPaired() && this.layers.pairing.outOfQrs;
    this.#reconnects.closed();
    const detached = this.#detach();
    const generation = this.#generation;
    await endNumberSocket(detached, this.#logger);
    // A command (restart, logout, import) took over while we were finishing up.
    if (generation !== this.#generation) return;
    const status = statusFromConnectionUpdate(update) as StatusEvent;

    if (action.reason === "logged_out") {
      // The creds are dead; keeping them would only make the next start fail the same way.
      this.#wantRunning = false;
      this.#logger.warn({ close_code: code }, "logged out by WhatsApp, session cleared");
      try {
        await this.#link.call("session.clear", {});
      } catch (err) {
        this.#logger.error({ err: errorText(err) }, "clearing the session failed");
      }
      if (generation === this.#generation) this.#setStatus(status);
      return;
    }
    if (action.reason === "transient" && unpairedOutOfQrs) return this.#expirePairing();
    this.#setStatus(status);
    if (action.reason === "banned") {
      // Keep the session for a human to look at; reconnecting would only dig deeper.
      this.#wantRunning = false;
      this.#logger.error({ close_code: code }, "number banned, not reconnecting");
      return;
    }
    if (action.refreshVersion) {
      await this.#settings.versions.refresh();
      if (generation !== this.#generation) return;
    }
    const error = update.lastDisconnect?.error;
    this.#scheduleReconnect(action.delay, { close_code: code, reason: action.reason, ...(error ? { err: errorText(error) } : {}) });
  }

  /** Nobody scanned the last `qrLimit` QRs: stop until asked again (restart, a QR or a pairing code). */
  async #expirePairing(): Promise<void> {
    this.#wantRunning = false;
    this.#logger.warn({ qrs_shown: this.layers.pairing.qrShown }, "pairing expired: no QR was scanned; stopped until asked again");
    await this.#endSocket();
    this.#setStatus({ ...emptyStatus("disconnected"), reason: "pairing_expired" });
  }

  /** The socket heard nothing past the bound: whatever it says, it is dead. Replace it without waiting for a goodbye. */
  #onSilent(silentMs: number): void {
    const sock = this.#sock;
    if (!sock) return;
    this.#silentSockets++;
    this.#logger.warn({ silent_ms: silentMs, replaced_here: this.#silentSockets }, "WhatsApp socket silent, replacing it");
    try {
      this.#link.emit("socket.silent", { silent_ms: silentMs });
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, "silent socket not reported");
    }
    hardClose(sock);
    void this.#onClose(silentClose(silentMs));
  }

  #scheduleReconnect(delay: ReconnectDelay, cause?: ReconnectCause): void {
    if (!this.#leased || !this.#wantRunning) return this.#reconnects.clear();
    // A socket that failed to start (no close) is not a reconnect by close code.
    if (cause?.close_code !== undefined) this.#counter?.reconnecting(cause.close_code);
    this.#reconnects.schedule(delay, () => void this.#start(), cause);
  }

  /** Forgets the current socket so its events are ignored from now on; the caller ends it. */
  #detach(): { sock: SocketLike | null; store: SessionStore | null } {
    this.#generation++;
    this.#starting = false;
    this.#reconnects.letGo();
    this.#silence.stop();
    const detached = { sock: this.#sock, store: this.#store };
    this.layers.sender.detach();
    this.#sock = null;
    this.#store = null;
    this.layers.pairing.socketGone();
    return detached;
  }

  async #endSocket(): Promise<void> {
    await endNumberSocket(this.#detach(), this.#logger);
  }

  // ------------------------------------------------------------ status

  #setStatus(status: StatusEvent, reason?: StatusEvent["reason"]): void {
    const next = reason ? { ...status, reason } : status;
    if (JSON.stringify(next) === JSON.stringify(this.#status)) return;
    this.#status = next;
    // A retry's connecting and its transient close are in its "reconnect scheduled" line already.
    const retryStep = this.#reconnects.retrying && (next.state === "connecting" || (next.state === "disconnected" && next.reason === "transient"));
    this.#logger[retryStep ? "debug" : "info"](
      { state: next.state, reason: next.reason, close_code: next.close_code, jid: next.jid },
      `status ${next.state}`,
    );
    try {
      this.#link.emit("status", next);
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, "status not sent");
    }
    this.layers.pairing.statusChanged(next);
  }

  #isPaired(): boolean {
    const creds = this.#store?.state.creds;
    // `registered` is only set by the pairing-code flow; a QR-paired device
    // instead has its signed device identity (`account`).
    return this.#status.state === "connected" || Boolean(creds && (creds.registered || creds.account));
  }
}

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
 */
import makeWASocket, {
  type AuthenticationCreds,
  BufferJSON,
  type ConnectionState,
  type GroupMetadata,
  type USyncQueryResult,
  type WAMessage,
  type WAPresence,
  initAuthCreds,
  jidNormalizedUser,
} from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import QRCode from "qrcode";
import { BACKOFF, backoffDelay, classifyClose } from "../shared/close-codes.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { z } from "zod";
import {
  type LeaseGranted,
  type MessageStatusEvent,
  type Methods,
  ProtocolError,
  type Result,
  type StatusEvent,
} from "../shared/protocol.ts";
import type { SessionCipher } from "./cipher.ts";
import type { EdgeLink } from "./edge-link.ts";
import { proxyAgent, redactProxyUrl } from "./proxy.ts";
import { CREDS_KEY, type SessionStore, openSessionStore, sealValue } from "./session-store.ts";
import { phoneLookupQuery, resolvedContacts } from "./phone-lookup.ts";
import { assertBlockableJid, blockError, groupError, wireGroup } from "./whatsapp-groups.ts";
import {
  type FetchMedia,
  assertSendableJid,
  classifySendError,
  presenceFor,
  sendResult,
  toBaileysContent,
} from "./outbound-content.ts";
import {
  StatusSteps,
  closeCodeOf,
  emptyStatus,
  statusFromConnectionUpdate,
  statusFromMessageUpdate,
  statusFromReceiptUpdate,
} from "./statuses.ts";
import { ServerAcks } from "./server-acks.ts";
import { InboundReceiver, selfOf } from "./inbound-receiver.ts";
import type { InboundSpool } from "./inbound-spool.ts";
import { DEFAULT_SILENCE_MS, SilenceWatch, hardClose, keepAliveFor, silentClose } from "./liveness.ts";
import type { WaVersionSource } from "./wa-version.ts";
import { DEFAULT_QR_LIMIT } from "./config.ts";
import { withTimeout } from "./deadlines.ts";
import { errorText } from "./errors.ts";
import type { MakeSocket, SocketLike } from "./wa-socket.ts";

export type ConnectionManagerOptions = {
  instanceId: string;
  link: EdgeLink;
  cipher: SessionCipher;
  versions: WaVersionSource;
  /** Already a child logger carrying `instance_id`. */
  logger: Logger;
  /** WhatsApp WebSocket URL for this instance; undefined = WhatsApp's own. */
  waUrl?: string;
  fireInitQueries: boolean;
  /** The number's proxy and received files may be on private addresses (POMBO_ALLOW_PRIVATE_NETWORKS=true). */
  allowPrivateNetworks?: boolean;
  makeSocket?: MakeSocket;
  /** Where media bytes for outbound messages come from (the edge's media route). */
  fetchMedia?: FetchMedia;
  /** Where received messages are written before WhatsApp gets their receipt (one per process). */
  spool: InboundSpool;
  /** Backoff jitter source (tests pin it). */
  random?: () => number;
  /** A socket that receives nothing this long is replaced (see liveness.ts). */
  silenceMs?: number;
  /** QRs an unpaired number shows before pairing expires (see DEFAULT_QR_LIMIT in config.ts). */
  qrLimit?: number;
};

/** A connection that stayed open this long counts as healthy: the backoff starts over. */
const STABLE_OPEN_MS = 60_000;
/** 515 asks for an immediate reconnect; more than this many in a row without a stable open fall back to backoff. */
const MAX_IMMEDIATE_RECONNECTS = 3;
const LOGOUT_TIMEOUT_MS = 5_000;
/** Below the edge's 25 s command timeout, so the API can say why instead of timing out. */
const PAIRING_READY_TIMEOUT_MS = 20_000;
/**
 * Longest a send may take once its content is ready (media: the upload to
 * WhatsApp included). The edge waits 60 s for an answer: typing (at most
 * 30 s) + 20 s, or the media download (20 s) + 35 s, both answer before it
 * gives up, so a slow send reads as a failure here rather than a timeout there.
 */
const SEND_TIMEOUT_MS = 20_000;
const MEDIA_SEND_TIMEOUT_MS = 35_000;
const RESOLVE_TIMEOUT_MS = 20_000;
/** Group and block-list queries: one round trip each, answered inside the edge's 25 s. */
const QUERY_TIMEOUT_MS = 20_000;
const MEDIA_TYPES = new Set(["image", "video", "document", "audio", "sticker"]);

type Waiter = { check: () => boolean; resolve: () => void };
/** `message.send` params as the RPC peer hands them over: parsed, defaults filled in. */
type SendParams = z.infer<(typeof Methods)["message.send"]["params"]>;

export class ConnectionManager {
  readonly instanceId: string;
  /** Operator commands the edge can call on this instance. */
  readonly methods: MethodHandlers;

  #link: EdgeLink;
  #cipher: SessionCipher;
  #versions: WaVersionSource;
  #logger: Logger;
  #waUrl: string | undefined;
  #fireInitQueries: boolean;
  #allowPrivateNetworks: boolean;
  #makeSocket: MakeSocket;
  #fetchMedia: FetchMedia;
  #random: () => number;
  #statusSteps = new StatusSteps();
  #inbound: InboundReceiver;

  #wantRunning = true;
  #leased = false;
  #proxyUrl: string | null = null;
  #generation = 0;
  #starting = false;
  #sock: SocketLike | null = null;
  #acks: ServerAcks | null = null;
  #store: SessionStore | null = null;
  /** The socket that produced the current QR: only it can take a pairing-code request. */
  #qrSock: SocketLike | null = null;
  #openedAt: number | null = null;
  #attempt = 0;
  #immediateStreak = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #status: StatusEvent = emptyStatus("disconnected");
  #waiters = new Set<Waiter>();
  #statusChanges = 0;
  #silence: SilenceWatch;
  #silenceMs: number;
  #qrLimit: number;
  /** QRs shown since the number last connected or was asked to pair. */
  #qrShown = 0;
  /** Sockets this process replaced for silence (the edge keeps the number's total). */
  #silentSockets = 0;

  constructor(opts: ConnectionManagerOptions) {
    this.instanceId = opts.instanceId;
    this.#link = opts.link;
    this.#cipher = opts.cipher;
    this.#versions = opts.versions;
    this.#logger = opts.logger;
    this.#waUrl = opts.waUrl;
    this.#fireInitQueries = opts.fireInitQueries;
    this.#allowPrivateNetworks = opts.allowPrivateNetworks ?? false;
    this.#makeSocket = opts.makeSocket ?? (makeWASocket as unknown as MakeSocket);
    this.#fetchMedia =
      opts.fetchMedia ??
      (async (mediaId) => {
        throw new ProtocolError("media_unavailable", `no media source configured for ${mediaId}`);
      });
    this.#random = opts.random ?? Math.random;
    this.#silenceMs = opts.silenceMs ?? DEFAULT_SILENCE_MS;
    this.#qrLimit = opts.qrLimit ?? DEFAULT_QR_LIMIT;
    this.#silence = new SilenceWatch({ silenceMs: this.#silenceMs, onSilent: (ms) => this.#onSilent(ms) });
    this.#inbound = new InboundReceiver({
      instanceId: this.instanceId,
      link: this.#link,
      spool: opts.spool,
      cipher: this.#cipher,
      logger: this.#logger,
    });
    this.methods = {
      "instance.restart": () => this.restart(),
      "instance.logout": () => this.logout(),
      "instance.pairing_code": ({ phone }) => this.pairingCode(phone),
      "instance.import_session": ({ creds }) => this.importSession(creds),
      "message.send": (params) => this.send(params),
      "contacts.resolve": ({ phones }) => this.resolveContacts(phones),
      "contacts.block": ({ jid, action }) => this.updateBlock(jid, action),
      "groups.list": () => this.listGroups(),
      "groups.get": ({ jid }) => this.getGroup(jid),
      echo: ({ at }) => ({ at }),
    };
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
      this.#clearReconnect();
    }
    if (this.#sock && proxyChanged) {
      // A socket keeps the agent it was made with; a new proxy needs a new socket.
      this.#logger.info({ proxy: redactProxyUrl(proxyUrl) }, "proxy changed, restarting socket");
      void this.#endSocket().then(() => this.#start());
      return;
    }
    if (!this.#sock && !this.#reconnectTimer) void this.#start();
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
    this.#attempt = 0;
    this.#immediateStreak = 0;
    this.#qrShown = 0;
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
    const { sock, store } = this.#detach();
    if (sock && wasConnected) {
      // Tell WhatsApp to drop this linked device; if it cannot be told (socket
      // half dead), wiping our side still makes the session unusable.
      try {
        await withTimeout(sock.logout(), LOGOUT_TIMEOUT_MS, "logout");
      } catch (err) {
        this.#logger.warn({ err: errorText(err) }, "logout not confirmed by WhatsApp, clearing session anyway");
      }
    }
    await this.#finish(sock, store);
    await this.#link.call("session.clear", {});
    this.#setStatus({ ...emptyStatus("disconnected"), reason: "logged_out", close_code: 401 });
    return {};
  }

  async pairingCode(phone: string): Promise<{ code: string }> {
    const digits = phone.replace(/\D/g, "");
    if (digits.length < 8 || digits.length > 15) throw new ProtocolError("invalid_phone", "phone must have 8 to 15 digits");
    if (this.#isPaired()) throw new ProtocolError("already_paired", "this instance already has a WhatsApp session");
    const changesBefore = this.#statusChanges;
    this.#qrShown = 0;
    if (!this.#wantRunning || (!this.#sock && !this.#starting)) {
      this.#wantRunning = true;
      this.#clearReconnect();
      void this.#start();
    }
    // A pairing code can only be asked on a socket that finished the handshake
    // as an unpaired device, which is exactly when it shows a QR.
    await this.#waitFor(
      () => this.#isPaired() || (this.#sock !== null && this.#qrSock === this.#sock),
      PAIRING_READY_TIMEOUT_MS,
      // A socket that drops (after this request) before offering a QR cannot ask for a code: say so now.
      () =>
        this.#statusChanges > changesBefore && this.#status.state === "disconnected"
          ? `cannot reach WhatsApp (close code ${this.#status.close_code})`
          : null,
    );
    if (this.#isPaired()) throw new ProtocolError("already_paired", "this instance already has a WhatsApp session");
    const sock = this.#sock as SocketLike;
    const code = await sock.requestPairingCode(digits);
    this.#logger.info("pairing code issued");
    return { code };
  }

  async importSession(raw: Record<string, unknown>): Promise<Record<string, never>> {
    let imported: AuthenticationCreds;
    try {
      imported = JSON.parse(JSON.stringify(raw), BufferJSON.reviver) as AuthenticationCreds;
    } catch {
      throw new ProtocolError("invalid_session", "creds are not BufferJSON");
    }
    if (typeof imported.me?.id !== "string" || !imported.noiseKey?.private || !imported.signedIdentityKey?.private) {
      throw new ProtocolError("invalid_session", "creds need me.id, noiseKey and signedIdentityKey");
    }
    // Older creds files lack fields newer Baileys expects; fresh defaults fill
    // only those gaps, every key from the import wins.
    const creds: AuthenticationCreds = { ...initAuthCreds(), ...imported };
    this.#logger.info("importing session");
    await this.#endSocket();
    await this.#link.call("session.clear", {});
    await this.#link.call("session.set", { entries: { [CREDS_KEY]: sealValue(this.#cipher, this.instanceId, CREDS_KEY, creds) } });
    this.#wantRunning = true;
    this.#attempt = 0;
    this.#qrShown = 0;
    this.#setStatus({ ...emptyStatus("connecting"), jid: creds.me?.id ?? null });
    void this.#start();
    return {};
  }

  // ------------------------------------------------------------ messages

  /**
   * Sends one message with the id the edge chose, so that a send repeated
   * after a crash is the same message to WhatsApp (recipients keep one
   * message per id). Logs ids and types only: texts may be OTP codes.
   */
  async send(params: SendParams): Promise<Result<"message.send">> {
    const { message_id, wa_message_id, chat_jid, content, typing_ms: typingMs } = params;
    const log = { message_id, wa_message_id, type: content.type };
    try {
      assertSendableJid(chat_jid);
      const sock = this.#openSocket();
      const payload = await toBaileysContent(content, {
        chatJid: chat_jid,
        fetchMedia: this.#fetchMedia,
        pollSecret: () => this.#cipher.messageSecret(this.instanceId, wa_message_id),
      });
      // Baileys echoes our own send back as a received message: it must not reach the edge as one.
      this.#inbound.rememberSent(wa_message_id);
      const presence = typingMs > 0 ? presenceFor(content) : null;
      if (presence) await this.#showPresence(sock, presence, chat_jid, typingMs);
      if (this.#sock !== sock || this.#status.state !== "connected") {
        throw new ProtocolError("not_connected", "the WhatsApp socket went away before the send");
      }
      const timeoutMs = MEDIA_TYPES.has(content.type) ? MEDIA_SEND_TIMEOUT_MS : SEND_TIMEOUT_MS;
      const acked = this.#acks!.wait(wa_message_id, timeoutMs);
      acked.catch(() => {}); // awaited below; a send that throws first must not leave it unhandled
      const sent = await withTimeout(sock.sendMessage(chat_jid, payload, { messageId: wa_message_id }), timeoutMs, "send");
      // Sent means WhatsApp has it, not that the frame left.
      await acked;
      const result = sendResult(sent, wa_message_id);
      this.#logger.info(log, "message sent");
      return result;
    } catch (err) {
      const failure = classifySendError(err);
      this.#logger.warn({ ...log, code: failure.code, err: failure.message }, "message not sent");
      throw failure;
    }
  }

  /** Which of these numbers (digits with country code) are on WhatsApp, in one query. */
  async resolveContacts(phones: string[]): Promise<Result<"contacts.resolve">> {
    const sock = this.#openSocket();
    let answer: USyncQueryResult | undefined;
    try {
      answer = await withTimeout(sock.executeUSyncQuery(phoneLookupQuery(phones)), RESOLVE_TIMEOUT_MS, "lookup");
    } catch (err) {
      const failure = classifySendError(err);
      this.#logger.warn({ phones: phones.length, code: failure.code, err: failure.message }, "contact lookup failed");
      if (failure.code === "not_connected") throw failure;
      throw new ProtocolError("resolve_failed", failure.message);
    }
    if (!answer) throw new ProtocolError("resolve_failed", "WhatsApp did not answer the lookup");
    const results = resolvedContacts(phones, answer);
    this.#logger.info({ phones: phones.length, on_whatsapp: results.filter((r) => r.exists).length }, "contacts resolved");
    return { results };
  }

  /** Blocks or unblocks a user on WhatsApp (this number's own block list). */
  async updateBlock(jid: string, action: "block" | "unblock"): Promise<Result<"contacts.block">> {
    const target = jidNormalizedUser(jid);
    assertBlockableJid(target);
    const sock = this.#openSocket();
    try {
      await withTimeout(sock.updateBlockStatus(target, action), QUERY_TIMEOUT_MS, action);
    } catch (err) {
      const failure = blockError(err);
      this.#logger.warn({ action, code: failure.code, err: failure.message }, "block list not changed");
      throw failure;
    }
    this.#logger.info({ action }, "block list changed");
    return { jid: target, blocked: action === "block" };
  }

  /** The groups this number is in, with their participants, by subject. */
  async listGroups(): Promise<Result<"groups.list">> {
    const sock = this.#openSocket();
    let all: Record<string, GroupMetadata>;
    try {
      all = await withTimeout(sock.groupFetchAllParticipating(), QUERY_TIMEOUT_MS, "group list");
    } catch (err) {
      const failure = groupError(err);
      this.#logger.warn({ code: failure.code, err: failure.message }, "group list failed");
      throw failure;
    }
    const groups = Object.values(all).map(wireGroup);
    groups.sort((a, b) => a.subject.localeCompare(b.subject) || a.jid.localeCompare(b.jid));
    return { groups };
  }

  async getGroup(jid: string): Promise<Result<"groups.get">> {
    const sock = this.#openSocket();
    try {
      return { group: wireGroup(await withTimeout(sock.groupMetadata(jid), QUERY_TIMEOUT_MS, "group metadata")) };
    } catch (err) {
      const failure = groupError(err, jid);
      this.#logger.warn({ code: failure.code, err: failure.message }, "group metadata failed");
      throw failure;
    }
  }

  /** The socket to send on, or `not_connected` when there is none open right now. */
  #openSocket(): SocketLike {
    const sock = this.#sock;
    if (!sock || this.#status.state !== "connected") {
      throw new ProtocolError("not_connected", `the number is ${this.#status.state}`);
    }
    return sock;
  }

  /** "typing..." (or "recording audio...") for `ms`, then paused. A presence that fails only costs the effect. */
  async #showPresence(sock: SocketLike, presence: WAPresence, jid: string, ms: number): Promise<void> {
    try {
      await sock.sendPresenceUpdate(presence, jid);
    } catch (err) {
      this.#logger.debug({ err: errorText(err) }, "presence not sent");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.#sock !== sock) return;
    await sock.sendPresenceUpdate("paused", jid).catch((err: unknown) => {
      this.#logger.debug({ err: errorText(err) }, "presence not sent");
    });
  }

  #reportStatus(event: MessageStatusEvent | null): void {
    if (!event || !this.#statusSteps.advance(event)) return;
    try {
      this.#link.emit("message.status", event);
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, "message status not sent");
    }
  }

  // ------------------------------------------------------------ socket lifecycle

  async #start(): Promise<void> {
    this.#clearReconnect();
    if (!this.#leased || !this.#wantRunning || this.#sock || this.#starting) return;
    const generation = ++this.#generation;
    this.#starting = true;
    let store: SessionStore | null = null;
    try {
      store = await openSessionStore({
        link: this.#link,
        cipher: this.#cipher,
        instanceId: this.instanceId,
        logger: this.#logger,
      });
      // Before the socket exists: a proxy the policy refuses is never dialed (the start fails and backs off).
      const agent = await proxyAgent(this.#proxyUrl, this.#allowPrivateNetworks);
      if (generation !== this.#generation) {
        store.close(); // stopped or restarted while we were loading
        return;
      }
      const sock = this.#makeSocket({
        auth: store.state,
        version: this.#versions.current(),
        ...(this.#waUrl ? { waWebSocketUrl: this.#waUrl } : {}),
        markOnlineOnConnect: false,
        syncFullHistory: false,
        fireInitQueries: this.#fireInitQueries,
        keepAliveIntervalMs: keepAliveFor(this.#silenceMs),
        logger: baileysLogger(this.#logger),
        ...(agent ? { agent, fetchAgent: agent } : {}),
        // Patched into Baileys: the message is on disk before WhatsApp hears we have it.
        beforeMessageAck: (msg, type) => this.#inbound.beforeAck(msg, type, selfOf(sock)),
      });
      this.#sock = sock;
      this.#acks = new ServerAcks(sock.ws);
      this.#silence.watch(sock.ws);
      this.#store = store;
      const opened = store;
      sock.ev.on("creds.update", () => {
        if (generation !== this.#generation) return;
        opened.saveCreds().catch((err: unknown) => this.#logger.error({ err: errorText(err) }, "saving creds failed"));
      });
      sock.ev.on("connection.update", (update) => void this.#onUpdate(generation, sock, update));
      // Receipts and server verdicts are facts about messages already sent: reported whatever socket brings them.
      sock.ev.on("messages.update", (updates) => {
        for (const update of updates) this.#reportStatus(statusFromMessageUpdate(update));
      });
      sock.ev.on("message-receipt.update", (updates) => {
        for (const update of updates) this.#reportStatus(statusFromReceiptUpdate(update));
      });
      this.#inbound.attach(sock);
      this.#logger.info(
        { fresh: store.fresh, version: this.#versions.current().join("."), proxy: redactProxyUrl(this.#proxyUrl) },
        "socket started",
      );
      this.#notify();
    } catch (err) {
      store?.close();
      if (generation !== this.#generation) return;
      this.#logger.error({ err: errorText(err) }, "socket could not start");
      this.#scheduleReconnect("backoff");
    } finally {
      if (generation === this.#generation) this.#starting = false;
    }
  }

  async #onUpdate(generation: number, sock: SocketLike, update: Partial<ConnectionState>): Promise<void> {
    if (generation !== this.#generation) return;
    let qrPng: string | null = null;
    if (update.qr) {
      // A new QR means the last one went unscanned.
      if (this.#qrShown >= this.#qrLimit) return this.#expirePairing();
      this.#qrShown++;
      qrPng = await QRCode.toDataURL(update.qr).catch(() => null);
      // The socket may have closed while the PNG was drawn; a late QR must not
      // overwrite the disconnected status.
      if (generation !== this.#generation || this.#sock !== sock) return;
      this.#qrSock = sock;
    }
    if (update.connection === "close") return this.#onClose(update);
    if (update.connection === "open") {
      this.#openedAt = Date.now();
      this.#qrShown = 0;
    }
    const status = statusFromConnectionUpdate(update, { user: sock.user, qrPng });
    if (status) this.#setStatus(status);
  }

  async #onClose(update: Partial<ConnectionState>): Promise<void> {
    const code = closeCodeOf(update);
    const action = classifyClose(code);
    const wasStable = this.#openedAt !== null && Date.now() - this.#openedAt >= STABLE_OPEN_MS;
    // Read before the socket is let go: a QR scanned just now closes with 515, paired, and must reconnect.
    const unpairedOutOfQrs = !this.#isPaired() && this.#qrShown >= this.#qrLimit;
    if (wasStable) {
      this.#attempt = 0;
      this.#immediateStreak = 0;
    }
    const { sock, store } = this.#detach();
    const generation = this.#generation;
    await this.#finish(sock, store);
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
      await this.#versions.refresh();
      if (generation !== this.#generation) return;
    }
    this.#scheduleReconnect(action.delay);
  }

  /** Nobody scanned the last `qrLimit` QRs: stop until asked again (restart, a QR or a pairing code). */
  async #expirePairing(): Promise<void> {
    this.#wantRunning = false;
    this.#logger.warn({ qrs_shown: this.#qrShown }, "pairing expired: no QR was scanned; stopped until asked again");
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

  #scheduleReconnect(delay: "now" | "backoff" | "slow"): void {
    this.#clearReconnect();
    if (!this.#leased || !this.#wantRunning) return;
    if (delay === "now" && this.#immediateStreak < MAX_IMMEDIATE_RECONNECTS) {
      this.#immediateStreak++;
      this.#logger.info("reconnecting now");
      void this.#start();
      return;
    }
    const ms = backoffDelay(this.#attempt++, BACKOFF[delay === "slow" ? "slow" : "backoff"], this.#random);
    this.#logger.info({ in_ms: ms, attempt: this.#attempt }, "reconnect scheduled");
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#start();
    }, ms);
  }

  #clearReconnect(): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
  }

  /** Forgets the current socket so its events are ignored from now on; the caller ends it. */
  #detach(): { sock: SocketLike | null; store: SessionStore | null } {
    this.#generation++;
    this.#starting = false;
    this.#clearReconnect();
    this.#silence.stop();
    const detached = { sock: this.#sock, store: this.#store };
    this.#acks?.failAll();
    this.#acks = null;
    this.#sock = null;
    this.#store = null;
    this.#qrSock = null;
    this.#openedAt = null;
    return detached;
  }

  /** Ends a detached socket and lets its queued session writes reach the edge. */
  async #finish(sock: SocketLike | null, store: SessionStore | null): Promise<void> {
    if (sock) {
      try {
        await sock.end(undefined);
      } catch (err) {
        this.#logger.debug({ err: errorText(err) }, "socket end failed");
      }
    }
    if (store) {
      store.close();
      await store.flush();
    }
  }

  async #endSocket(): Promise<void> {
    const { sock, store } = this.#detach();
    await this.#finish(sock, store);
  }

  // ------------------------------------------------------------ status

  #setStatus(status: StatusEvent, reason?: StatusEvent["reason"]): void {
    const next = reason ? { ...status, reason } : status;
    if (JSON.stringify(next) === JSON.stringify(this.#status)) return;
    this.#status = next;
    this.#statusChanges++;
    this.#logger.info(
      { state: next.state, reason: next.reason, close_code: next.close_code, jid: next.jid },
      `status ${next.state}`,
    );
    try {
      this.#link.emit("status", next);
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, "status not sent");
    }
    this.#notify();
  }

  #isPaired(): boolean {
    const creds = this.#store?.state.creds;
    // `registered` is only set by the pairing-code flow; a QR-paired device
    // instead has its signed device identity (`account`).
    return this.#status.state === "connected" || Boolean(creds && (creds.registered || creds.account));
  }

  #waitFor(check: () => boolean, timeoutMs: number, failure: () => string | null = () => null): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => check() || failure() !== null,
        resolve: () => {
          clearTimeout(timer);
          const failed = check() ? null : failure();
          if (failed) reject(new ProtocolError("not_ready", failed));
          else resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new ProtocolError("not_ready", "the socket did not become ready in time"));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.check()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

/**
 * Baileys logs at warn for things that are routine for us (history sync is
 * disabled on purpose, no push name yet). Unless the operator asked for
 * info or more, only its errors come through.
 */
function baileysLogger(logger: Logger): Logger {
  const verbose = logger.isLevelEnabled("info");
  return logger.child({ module: "baileys" }, { level: verbose ? logger.level : "error" });
}

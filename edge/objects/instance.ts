/**
 * One Durable Object per instance (WhatsApp number). It is the single writer
 * of everything that must not be split between fleet processes:
 *
 * - the outbound queue, its pacing and the number's health (see sender.ts);
 * - the lease: the fleet process whose WebSocket it accepted runs the number;
 *   nobody else may until that socket is released or its pings stop for
 *   LEASE_TTL_MS;
 * - the session: Baileys creds and Signal keys, as ciphertext the fleet
 *   encrypted (the edge never holds the session key);
 * - the live status (state, reason, QR), mirrored to D1 for listing.
 *
 * Pings are answered by the runtime without waking the object (hibernation
 * auto-response), so an idle connected number costs nothing here.
 */
import { DurableObject } from "cloudflare:workers";
import { phoneFromJid } from "../../shared/jid.ts";
import {
  CloseCode,
  type DisconnectReason,
  type InboundMessage,
  LEASE_TTL_MS,
  type LidMapping,
  type MethodName,
  PING,
  PONG,
  PROTOCOL_VERSION,
  type Params,
  ProtocolError,
  type Result,
  type StatusEvent,
  eventFrame,
} from "../../shared/protocol.ts";
import { RpcPeer } from "../../shared/rpc.ts";
import { db } from "../db/client.ts";
import { type InstanceStatusPatch, updateInstanceStatus } from "../db/instances.ts";
import type { Env } from "../env.ts";
import { learnMappings } from "../services/identity.ts";
import { publish } from "../services/events.ts";
import { type Incident, type IncidentKind, healthScore, incidentFor, recordIncident } from "../services/health.ts";
import { receiveMessage } from "../services/inbound.ts";
import { MediaUnavailable, uploadTicket } from "../services/media-store.ts";
import type { Settings } from "../services/settings-schema.ts";
import { type Announced, type InstanceEventType, announcedFrom, instanceEvent } from "./instance-events.ts";
import type { OutboxItem } from "./outbox.ts";
import { Sender } from "./sender.ts";

export type InstanceMeta = { instance_id: string; project_id: string; name: string; proxy_url: string | null };

/** The lease as stored: `expires_at` null means "alive while its socket is open". */
type Lease = { fleet_id: string; expires_at: number | null };

type Attachment = { fleet_id: string; holder: boolean; granted_at: number };

export type Status = StatusEvent & { fleet_id: string | null; updated_at: string };

export type CommandResult<M extends MethodName> =
  | { ok: true; result: Result<M> }
  | { ok: false; code: string; message: string };

/** How long a holder that missed its pings may still be holding the number. */
const expiresAt = (lastSeen: number) => lastSeen + LEASE_TTL_MS;

const INITIAL_STATUS: StatusEvent = {
  state: "connecting",
  reason: null,
  close_code: null,
  qr: null,
  qr_png: null,
  jid: null,
  lid: null,
  push_name: null,
};

export class InstanceObject extends DurableObject<Env> {
  #peers = new Map<WebSocket, RpcPeer>();
  #holderWaiters = new Set<() => void>();
  #sessionReady = false;
  /** Received messages being stored, by WhatsApp id: a resend racing the first attempt waits for it. */
  #receiving = new Map<string, Promise<Result<"message.received">>>();
  /** LID mappings being learned, in arrival order; received messages wait for them. */
  #learning: Promise<void> = Promise.resolve();

  #sender: Sender;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    this.#sender = new Sender({
      ctx,
      env,
      instanceId: async () => (await this.#meta())?.instance_id ?? null,
      readyFleet: async () => {
        const holder = this.#liveHolder();
        return holder && (await this.status())?.state === "connected" ? this.#peer(holder) : null;
      },
      firstConnectedAt: async () => (await ctx.storage.get<string>("first_connected_at")) ?? null,
      incident: (kind) => this.#incident(kind),
      mirror: async (patch) => {
        const meta = await this.#meta();
        if (meta) await this.#mirror(meta, { ...patch, health: await this.#health() });
      },
    });
  }

  // ------------------------------------------------------------ sending

  /** Queues a message (idempotent per message id); it leaves when the number can send it. */
  async enqueue(item: Omit<OutboxItem, "next_part" | "attempts" | "not_before">, settings: Settings): Promise<void> {
    await this.#sender.enqueue(item, settings);
  }

  async applySettings(settings: Settings): Promise<void> {
    await this.#sender.applySettings(settings);
  }

  async queueSize(): Promise<number> {
    return this.#sender.outbox.size();
  }

  async alarm(): Promise<void> {
    await this.#sender.alarm();
  }

  // ------------------------------------------------------------ health

  async #health(): Promise<number> {
    return healthScore((await this.ctx.storage.get<Incident[]>("incidents")) ?? []);
  }

  async #incident(kind: IncidentKind): Promise<void> {
    const incidents = recordIncident((await this.ctx.storage.get<Incident[]>("incidents")) ?? [], kind);
    await this.ctx.storage.put("incidents", incidents);
    const meta = await this.#meta();
    // Mirrored at once: below the threshold the number must leave rotation now, not later.
    if (meta) await this.#mirror(meta, { health: healthScore(incidents) });
  }

  #meta(): Promise<InstanceMeta | undefined> {
    return this.ctx.storage.get<InstanceMeta>("meta");
  }

  // ------------------------------------------------------------ called by the Worker

  async init(meta: InstanceMeta): Promise<void> {
    await this.ctx.storage.put({ meta, status: { ...INITIAL_STATUS, fleet_id: null, updated_at: now() } });
  }

  async status(): Promise<Status | null> {
    return (await this.ctx.storage.get<Status>("status")) ?? null;
  }

  /**
   * Sends a command to the fleet process running this number. With `waitMs`,
   * waits that long for a fleet to take the lease first (a just-created
   * instance is picked up within a second or two).
   */
  async command<M extends MethodName>(method: M, params: Params<M>, waitMs = 0): Promise<CommandResult<M>> {
    if (!(await this.ctx.storage.get("meta"))) return { ok: false, code: "not_found", message: "no such instance" };
    const holder = this.#liveHolder() ?? (waitMs > 0 ? await this.#waitForHolder(waitMs) : undefined);
    if (!holder) return { ok: false, code: "fleet_unavailable", message: "no fleet process is running this instance" };
    try {
      return { ok: true, result: await this.#peer(holder).call(method, params, 25_000) };
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : "failed";
      return { ok: false, code, message: err instanceof Error ? err.message : String(err) };
    }
  }

  /** One edge -> fleet -> edge frame round trip, in ms as seen from here. */
  async ping(): Promise<CommandResult<"echo"> & { rtt_ms?: number }> {
    const started = Date.now();
    const result = await this.command("echo", { at: started });
    return result.ok ? { ...result, rtt_ms: Date.now() - started } : result;
  }

  /** Logout with no fleet to tell WhatsApp: forget the session here. */
  async forgetSession(): Promise<void> {
    this.#sql().exec("DELETE FROM session");
    await this.#applyStatus({ ...INITIAL_STATUS, state: "disconnected", reason: "logged_out" }, null);
  }

  /** The instance was deleted: drop the fleet and every byte stored here. */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) {
      this.#setAttachment(ws, { holder: false }); // so closing it does not write a lease back
      this.#close(ws, CloseCode.deleted, "instance deleted");
    }
    await this.ctx.storage.deleteAll();
    this.#sessionReady = false;
    this.#sender.reset();
  }

  // ------------------------------------------------------------ the fleet's WebSocket

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const url = new URL(request.url);
    const fleetId = url.searchParams.get("fleet_id");
    const meta = await this.ctx.storage.get<InstanceMeta>("meta");
    if (!meta) return new Response("no such instance", { status: 404 });
    if (!fleetId) return new Response("fleet_id is required", { status: 400 });

    const { 0: client, 1: server } = new WebSocketPair();
    if (Number(url.searchParams.get("v") ?? PROTOCOL_VERSION) !== PROTOCOL_VERSION) {
      server.accept();
      server.close(CloseCode.badVersion, `this edge speaks protocol v${PROTOCOL_VERSION}`);
      return new Response(null, { status: 101, webSocket: client });
    }

    const retryAfter = await this.#leaseBlockedFor(fleetId);
    if (retryAfter > 0) {
      // Not hibernatable on purpose: this socket lives for one frame.
      server.accept();
      const holder = (await this.ctx.storage.get<Lease>("lease"))?.fleet_id ?? null;
      server.send(eventFrame("lease.denied", { retry_after_ms: retryAfter, holder }));
      server.close(CloseCode.leaseHeld, "lease held by another fleet process");
      return new Response(null, { status: 101, webSocket: client });
    }

    // Granted. Whoever held it before (an expired holder, or an older
    // socket of this same fleet) is let go first.
    for (const ws of this.ctx.getWebSockets()) {
      this.#setAttachment(ws, { holder: false });
      this.#close(ws, CloseCode.leaseHeld, "lease moved");
    }
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ fleet_id: fleetId, holder: true, granted_at: Date.now() } satisfies Attachment);
    await this.ctx.storage.put("lease", { fleet_id: fleetId, expires_at: null } satisfies Lease);
    const parked = parkedReason(await this.status());
    server.send(
      eventFrame("lease.granted", {
        instance_id: meta.instance_id,
        ttl_ms: LEASE_TTL_MS,
        config: { name: meta.name, proxy_url: meta.proxy_url, ...(parked ? { parked } : {}) },
      }),
    );
    await this.#mirror(meta, { fleet_id: fleetId });
    for (const wake of this.#holderWaiters) wake();
    this.#sender.wake();
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (!attachment?.holder) return this.#close(ws, CloseCode.leaseHeld, "not the lease holder");
    if (typeof message !== "string") return this.#close(ws, 1003, "text frames only");
    try {
      await this.#peer(ws).receive(message);
    } catch (err) {
      // A frame we cannot read is the fleet's bug; say so in the logs, keep the link.
      console.warn(`instance ${this.ctx.id}: dropped a frame:`, err instanceof Error ? err.message : err);
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.#onSocketGone(ws);
    this.#close(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    await this.#onSocketGone(ws);
  }

  // ------------------------------------------------------------ lease

  /** 0 when `fleetId` may take the lease now, else how long it should wait. */
  async #leaseBlockedFor(fleetId: string): Promise<number> {
    const lease = await this.ctx.storage.get<Lease>("lease");
    if (!lease || lease.fleet_id === fleetId) return 0; // free, or re-entrant
    const holder = this.#holderSocket();
    const until = holder ? expiresAt(this.#lastSeen(holder)) : (lease.expires_at ?? 0);
    const left = until - Date.now();
    // A live holder may release any moment (rebalance, drain): ask to retry soon.
    if (left > 0) return holder ? Math.min(left, 2_000) : left;
    return 0;
  }

  #holderSocket(): WebSocket | undefined {
    return this.ctx.getWebSockets().find((ws) => (ws.deserializeAttachment() as Attachment | null)?.holder);
  }

  #liveHolder(): WebSocket | undefined {
    const holder = this.#holderSocket();
    return holder && expiresAt(this.#lastSeen(holder)) > Date.now() ? holder : undefined;
  }

  /** When we last heard from a socket: its last auto-answered ping, or its grant. */
  #lastSeen(ws: WebSocket): number {
    const granted = (ws.deserializeAttachment() as Attachment | null)?.granted_at ?? 0;
    return Math.max(granted, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
  }

  #waitForHolder(waitMs: number): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#holderWaiters.delete(done);
        resolve(this.#liveHolder());
      };
      const timer = setTimeout(done, waitMs);
      this.#holderWaiters.add(done);
    });
  }

  async #onSocketGone(ws: WebSocket): Promise<void> {
    this.#peers.get(ws)?.failAll("fleet link closed");
    this.#peers.delete(ws);
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (!attachment?.holder) return;
    this.#setAttachment(ws, { holder: false });
    // The process may still be alive behind a broken link, with its WhatsApp
    // socket open: the lease runs until its pings would have lapsed, and the
    // fleet fences itself before then.
    await this.ctx.storage.put("lease", { fleet_id: attachment.fleet_id, expires_at: expiresAt(this.#lastSeen(ws)) });
    await this.#markGone(attachment.fleet_id);
  }

  /** The holder let go cleanly (drain, revoke): the lease ends now. */
  async #release(ws: WebSocket): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (!attachment?.holder) return;
    this.#setAttachment(ws, { holder: false });
    await this.ctx.storage.delete("lease");
    await this.#markGone(attachment.fleet_id);
    this.#close(ws, CloseCode.normal, "released");
  }

  /** No fleet runs the number now: unless it is parked (logged out, banned, pairing expired) it is reconnecting. */
  async #markGone(fleetId: string): Promise<void> {
    const status = await this.status();
    if (!status || status.fleet_id !== fleetId) return;
    const next = parkedReason(status)
      ? status
      : { ...status, state: "disconnected" as const, reason: "transient" as const, qr: null, qr_png: null };
    await this.#applyStatus(next, null);
  }

  // ------------------------------------------------------------ frames from the fleet

  #peer(ws: WebSocket): RpcPeer {
    let peer = this.#peers.get(ws);
    if (peer) return peer;
    peer = new RpcPeer({
      send: (text) => ws.send(text),
      events: {
        status: (data) => this.#applyStatus(data, (ws.deserializeAttachment() as Attachment).fleet_id),
        release: () => this.#release(ws),
        "message.status": async (data) => {
          const meta = await this.#meta();
          if (meta) this.#sender.onStatus(data, meta.project_id);
        },
        "socket.silent": async ({ silent_ms }) => {
          const meta = await this.#meta();
          if (!meta) return;
          const count = ((await this.ctx.storage.get<number>("dead_sockets")) ?? 0) + 1;
          await this.ctx.storage.put("dead_sockets", count);
          await this.#mirror(meta, { dead_socket_reconnects: count });
          console.warn(`instance ${meta.instance_id}: WhatsApp socket silent for ${silent_ms} ms, replaced (${count} so far)`);
        },
        "lid.mappings": ({ mappings }) => this.#learn(mappings),
      },
      methods: {
        "session.get": ({ keys }) => ({ values: this.#sessionGet(keys) }),
        "session.set": ({ entries }) => ({ written: this.#sessionSet(entries) }),
        "session.clear": () => ({ cleared: this.#sql().exec("DELETE FROM session").rowsWritten }),
        "message.received": (message) => this.#receive(message),
        "media.upload_url": (file) => this.#uploadTicket(file),
      },
    });
    this.#peers.set(ws, peer);
    return peer;
  }

  // ------------------------------------------------------------ received messages over HTTP

  /**
   * A received message from a fleet process that does not hold this number's
   * link (its lease moved, or it is draining, while the message waited in its
   * spool): `POST /fleet/instances/{id}/received`. It ends where the link's
   * `lid.mappings` + `message.received` do, so a repeat by either path is
   * the same message.
   */
  async receivedFromSpool(message: InboundMessage, mappings: LidMapping[]): Promise<CommandResult<"message.received">> {
    return this.#answer(async () => {
      await this.#scope();
      // As on the link, a pair that fails to be learned (logged) does not hold the message back.
      if (mappings.length > 0) await this.#learn(mappings).catch(() => {});
      return this.#receive(message);
    });
  }

  /** Where such a fleet puts a received file: `POST /fleet/instances/{id}/media-upload-url`. */
  async uploadTicketFor(file: Params<"media.upload_url">): Promise<CommandResult<"media.upload_url">> {
    return this.#answer(() => this.#uploadTicket(file));
  }

  /** Errors cross the RPC boundary as codes: a thrown ProtocolError would arrive without its own. */
  async #answer<M extends MethodName>(work: () => Promise<Result<M>>): Promise<CommandResult<M>> {
    try {
      return { ok: true, result: await work() };
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { ok: false, code: err.code, message: err.message };
    }
  }

  /** LID pairs, learned in arrival order: the fleet sends a message's pairs just before it, and the message waits for them. */
  async #learn(mappings: LidMapping[]): Promise<void> {
    const meta = await this.#meta();
    if (!meta) return;
    const learned = this.#learning.then(() => learnMappings(this.env, meta.project_id, meta.instance_id, mappings));
    this.#learning = learned.catch((err: unknown) => {
      console.error(`instance ${meta.instance_id}: learning LID mappings failed:`, err instanceof Error ? err.message : err);
    });
    await learned;
  }

  async #uploadTicket(file: Params<"media.upload_url">): Promise<Result<"media.upload_url">> {
    try {
      return await uploadTicket(this.env, await this.#scope(), file);
    } catch (err) {
      if (err instanceof MediaUnavailable) throw new ProtocolError(err.code, err.message);
      throw err;
    }
  }

  async #scope(): Promise<{ project_id: string; instance_id: string }> {
    const meta = await this.#meta();
    if (!meta) throw new ProtocolError("not_found", "no such instance");
    return meta;
  }

  /** Stores one received message and announces it; answered only then, so the fleet can let go of it. */
  async #receive(message: InboundMessage): Promise<Result<"message.received">> {
    const scope = await this.#scope();
    await this.#learning;
    const running = this.#receiving.get(message.wa_message_id);
    if (running) return { message_id: (await running).message_id, duplicate: true };
    const work = receiveMessage(this.env, scope, message, this.ctx.storage);
    this.#receiving.set(message.wa_message_id, work);
    try {
      return await work;
    } finally {
      this.#receiving.delete(message.wa_message_id);
    }
  }

  async #applyStatus(event: StatusEvent, fleetId: string | null): Promise<void> {
    const meta = await this.ctx.storage.get<InstanceMeta>("meta");
    if (!meta) return;
    const previous = await this.status();
    const announced = (await this.ctx.storage.get<Announced>("announced")) ?? announcedFrom(previous);
    await this.ctx.storage.put("status", { ...event, fleet_id: fleetId, updated_at: now() } satisfies Status);
    const patch: InstanceStatusPatch = {
      state: event.state,
      reason: event.state === "disconnected" ? event.reason : null,
      fleet_id: fleetId,
    };
    if (event.jid) Object.assign(patch, { jid: event.jid, phone: phoneFromJid(event.jid) });
    if (event.lid) patch.lid = event.lid;
    if (event.push_name) patch.push_name = event.push_name;
    if (event.state === "disconnected" && event.close_code !== null) {
      Object.assign(patch, { last_close_code: event.close_code, last_close_at: now() });
    }
    const everConnected = Boolean(await this.ctx.storage.get("first_connected_at"));
    if (event.state === "connected" && !everConnected) {
      // Warming counts its days from the first time the number is online with us.
      const firstConnectedAt = now();
      await this.ctx.storage.put("first_connected_at", firstConnectedAt);
      patch.first_connected_at = firstConnectedAt;
    }
    await this.#mirror(meta, patch);
    const news = instanceEvent(announced, previous?.qr ?? null, event);
    const incident = incidentFor(news?.type ?? null, event, everConnected);
    if (incident) await this.#incident(incident);
    if (event.state === "connected") this.#sender.wake();
    if (event.jid) await this.ctx.storage.put("jid", event.jid);
    if (!news) return;
    await this.ctx.storage.put("announced", news.announced);
    await this.#announce(meta, news.type, event);
  }

  /** Publishes an `instance.*` event (see instance-events.ts for which changes are news). */
  async #announce(meta: InstanceMeta, type: InstanceEventType, next: StatusEvent): Promise<void> {
    // A drop's status does not repeat the number's JID; the last one known still names it.
    const jid = next.jid ?? (await this.ctx.storage.get<string>("jid")) ?? null;
    const payload = {
      state: next.state,
      reason: next.state === "disconnected" ? next.reason : null,
      close_code: next.close_code,
      jid,
      phone: phoneFromJid(jid),
      ...(type === "instance.qr" ? { qr: next.qr } : {}),
    };
    try {
      await publish(this.env, meta.project_id, { type, instance_id: meta.instance_id, payload });
    } catch (err) {
      // The status itself is applied; losing its announcement must not undo that.
      console.error(`instance ${meta.instance_id}: ${type} not published:`, err instanceof Error ? err.message : err);
    }
  }

  /** D1 holds a copy of the status for listing; this object is its only writer. */
  async #mirror(meta: InstanceMeta, patch: InstanceStatusPatch): Promise<void> {
    await updateInstanceStatus(db(this.env.DB), meta.project_id, meta.instance_id, patch);
  }

  // ------------------------------------------------------------ session storage

  #sql(): SqlStorage {
    const sql = this.ctx.storage.sql;
    if (!this.#sessionReady) {
      sql.exec("CREATE TABLE IF NOT EXISTS session (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
      this.#sessionReady = true;
    }
    return sql;
  }

  #sessionGet(keys: string[]): Record<string, string | null> {
    const values: Record<string, string | null> = Object.fromEntries(keys.map((k) => [k, null]));
    // json_each keeps this one statement with one bound parameter, however many keys.
    const rows = this.#sql().exec<{ k: string; v: string }>(
      "SELECT k, v FROM session WHERE k IN (SELECT value FROM json_each(?))",
      JSON.stringify(keys),
    );
    for (const row of rows) values[row.k] = row.v;
    return values;
  }

  /** One Baileys `keys.set` call: all of it lands, or none of it. */
  #sessionSet(entries: Record<string, string | null>): number {
    const sql = this.#sql();
    return this.ctx.storage.transactionSync(() => {
      let written = 0;
      for (const [k, v] of Object.entries(entries)) {
        if (v === null) sql.exec("DELETE FROM session WHERE k = ?", k);
        else sql.exec("INSERT INTO session (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
        written++;
      }
      return written;
    });
  }

  // ------------------------------------------------------------ helpers

  #setAttachment(ws: WebSocket, patch: Partial<Attachment>): void {
    const current = ws.deserializeAttachment() as Attachment | null;
    if (current) ws.serializeAttachment({ ...current, ...patch });
  }

  #close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }
}

const now = () => new Date().toISOString();

/** Why the number is parked (no fleet should connect it by itself), or null when it should run. */
function parkedReason(status: StatusEvent | null): Exclude<DisconnectReason, "transient"> | null {
  return status?.state === "disconnected" && status.reason && status.reason !== "transient" ? status.reason : null;
}

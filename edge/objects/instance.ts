/**
 * One Durable Object per instance (WhatsApp number). It is the single writer
 * of everything that must not be split between fleet processes:
 *
 * - the outbound queue, its pacing and the number's health (see sender.ts,
 *   incidents.ts);
 * - the lease: which fleet process runs the number (lease.ts);
 * - the session: Baileys creds and Signal keys, as ciphertext the fleet
 *   encrypted (session-table.ts);
 * - the live status (state, reason, QR), mirrored to D1 for listing;
 * - received messages, stored and announced once (inbound-dedup.ts);
 * - read receipts until WhatsApp has them (read-receipts.ts), and whose
 *   presence the number watches (presence.ts);
 * - calls to the number, acted on and announced once (services/calls.ts),
 *   and how the number behaves (`number_settings`, services/number-settings.ts).
 *
 * This class is the facade: the Worker's calls, and the wiring of its parts.
 * What the fleet sends over its link (and the spooled messages it posts over
 * HTTP) is routed in fleet-link.ts.
 *
 * What it stores is listed in instance-storage.ts. Pings are answered by the
 * runtime without waking the object (hibernation auto-response), so an idle
 * connected number costs nothing here.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CloseCode,
  type InboundMessage,
  type LidMapping,
  type MethodName,
  type ReadReceiptKey,
  PING,
  PONG,
  type Params,
  ProtocolError,
} from "../../shared/protocol.ts";
import type { Env } from "../env.ts";
import { type NumberSettings, type NumberSettingsPatch, defaultNumberSettings } from "../services/number-settings.ts";
import type { Settings } from "../services/settings-schema.ts";
import { AvatarFetches } from "./avatars.ts";
import { type CommandResult, FleetLink } from "./fleet-link.ts";
import { GroupSubjects } from "./group-subjects.ts";
import { InboundDedup } from "./inbound-dedup.ts";
import { INITIAL_STATUS, InstanceStatus } from "./instance-status.ts";
import { INSTANCE_TABLES, type InstanceMeta, type InstanceStorage, type Status } from "./instance-storage.ts";
import { Lease, closeSocket } from "./lease.ts";
import { LookupBudget } from "./lookup-budget.ts";
import type { OutboxItem } from "./outbox.ts";
import { PresenceWatch, type Subscribed } from "./presence.ts";
import { ReadReceipts } from "./read-receipts.ts";
import { Sender } from "./sender.ts";
import { SessionTable } from "./session-table.ts";
import { createTables } from "./sql-table.ts";
import { TypedStorage } from "./typed-storage.ts";

export type { CommandResult } from "./fleet-link.ts";

/** A phone lookup's outcome: the fleet's answer, or why not (`rate_limited`: the hour's budget is spent). */
export type LookupResult = CommandResult<"contacts.resolve"> | { ok: false; code: "rate_limited"; message: string; retry_after_s: number };

export class InstanceObject extends DurableObject<Env> {
  readonly #storage: InstanceStorage;
  readonly #link: FleetLink;
  readonly #lease: Lease;
  readonly #session: SessionTable;
  readonly #status: InstanceStatus;
  readonly #inbound: InboundDedup;
  readonly #sender: Sender;
  readonly #lookups: LookupBudget;
  readonly #receipts: ReadReceipts;
  readonly #presence: PresenceWatch;
  readonly #groups: GroupSubjects;
  readonly #avatars: AvatarFetches;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    createTables(ctx.storage.sql, INSTANCE_TABLES);
    // Read on every frame of the fleet link, every received message and every send (the sender's pacing and counters, the
    // number's status and health); written at creation, on a change, or once per send (`usage`, `gap_ms`): small values.
    this.#storage = new TypedStorage(ctx.storage, ["meta", "number_settings", "status", "settings", "usage", "gap_ms", "first_connected_at", "incidents"]);
    this.#lease = new Lease(ctx, this.#storage);
    this.#session = new SessionTable(ctx.storage);
    this.#status = new InstanceStatus(env, this.#storage, () => this.#connected());
    this.#inbound = new InboundDedup();
    this.#lookups = new LookupBudget(this.#storage);
    const readyFleet = async () => {
      const holder = this.#lease.liveHolder();
      return holder && (await this.status())?.state === "connected" ? this.#link.peer(holder) : null;
    };
    this.#receipts = new ReadReceipts({ ctx, readyFleet });
    this.#presence = new PresenceWatch(env, this.#storage, readyFleet, async () => (await this.numberSettings())?.always_online ?? false);
    this.#groups = new GroupSubjects(this.#storage, readyFleet);
    this.#avatars = new AvatarFetches({ ctx, env, storage: this.#storage, readyFleet, scope: () => this.#scope() });
    this.#sender = new Sender({
      ctx,
      env,
      storage: this.#storage,
      instanceId: async () => (await this.#meta())?.instance_id ?? null,
      readyFleet,
      incident: (kind) => this.#status.incident(kind),
      mirrorWrites: async (patch) => this.#status.mirrorWrites({ ...patch, health: await this.#status.health() }),
      fetchAvatar: (contact) => this.#avatars.add(contact),
      session: this.#session,
    });
    this.#link = new FleetLink({
      ctx,
      env,
      storage: this.#storage,
      lease: this.#lease,
      session: this.#session,
      status: this.#status,
      inbound: this.#inbound,
      sender: this.#sender,
      receipts: this.#receipts,
      presence: this.#presence,
      groups: this.#groups,
      avatars: this.#avatars,
      numberSettings: () => this.numberSettings(),
      scope: () => this.#scope(),
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

  /** Calls a queued message off (see Sender.cancel). */
  async cancel(messageId: string): Promise<"canceled" | "sending" | "absent"> {
    return this.#sender.cancel(messageId);
  }

  async queueSize(): Promise<number> {
    return this.#sender.outbox.size();
  }

  async alarm(): Promise<void> {
    await Promise.all([this.#sender.alarm(), this.#receipts.send(), this.#avatars.fetchAll()]);
  }

  /** The number came online: its queue, read receipts and avatar fetches may move, and WhatsApp forgot its presence subscriptions. */
  #connected(): void {
    this.#sender.wake();
    this.#receipts.wake();
    this.#avatars.wake();
    this.ctx.waitUntil(this.#presence.connected());
  }

  // ------------------------------------------------------------ read receipts and presence

  /** Queues read receipts for received messages; they reach WhatsApp once the number is online. False for no instance. */
  async queueReadReceipts(keys: ReadReceiptKey[]): Promise<boolean> {
    if (!(await this.#meta())) return false;
    this.#receipts.add(keys);
    return true;
  }

  async pendingReadReceipts(): Promise<number> {
    return this.#receipts.size();
  }

  async subscribePresence(jid: string): Promise<Subscribed> {
    return this.#presence.subscribe(jid);
  }

  async unsubscribePresence(jid: string): Promise<boolean> {
    return this.#presence.unsubscribe(jid);
  }

  async presenceSubscriptions(): Promise<string[]> {
    return this.#presence.subscriptions();
  }

  // ------------------------------------------------------------ how the number behaves

  /** Its settings (defaults where never set); null for no instance. */
  async numberSettings(): Promise<NumberSettings | null> {
    if (!(await this.#meta())) return null;
    return { ...defaultNumberSettings(), ...(await this.#storage.get("number_settings")) };
  }

  /** Changes some; each acts at once (always_online is shown to WhatsApp now if the number is online). Null for no instance. */
  async changeNumberSettings(patch: NumberSettingsPatch): Promise<NumberSettings | null> {
    const current = await this.numberSettings();
    if (!current) return null;
    const next = { ...current, ...patch };
    await this.#storage.put("number_settings", next);
    if (next.always_online !== current.always_online) await this.#presence.alwaysOnline(next.always_online);
    return next;
  }

  /**
   * A new proxy (null: none). The fleet reads it from its grant, so the link
   * holding the number is closed: the fleet links again at once, and a grant
   * with another proxy restarts its socket through it. False for no instance.
   */
  async changeProxy(proxyUrl: string | null): Promise<boolean> {
    const meta = await this.#meta();
    if (!meta) return false;
    await this.#storage.put("meta", { ...meta, proxy_url: proxyUrl });
    if (meta.proxy_url !== proxyUrl) this.#lease.dropAll(CloseCode.normal, "proxy changed");
    return true;
  }

  // ------------------------------------------------------------ called by the Worker

  async init(meta: InstanceMeta): Promise<void> {
    await this.#storage.putMany({ meta, status: this.#status.initial() });
  }

  status(): Promise<Status | null> {
    return this.#status.get();
  }

  /**
   * Sends a command to the fleet process running this number. With `waitMs`,
   * waits that long for a fleet to take the lease first (a just-created
   * instance is picked up within a second or two).
   */
  async command<M extends MethodName>(method: M, params: Params<M>, waitMs = 0): Promise<CommandResult<M>> {
    if (!(await this.#meta())) return { ok: false, code: "not_found", message: "no such instance" };
    const holder = this.#lease.liveHolder() ?? (waitMs > 0 ? await this.#lease.waitForHolder(waitMs) : undefined);
    if (!holder) return { ok: false, code: "fleet_unavailable", message: "no fleet process is running this instance" };
    try {
      return { ok: true, result: await this.#link.peer(holder).call(method, params, 25_000) };
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : "failed";
      return { ok: false, code, message: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Edits or deletes one of the number's sent messages on WhatsApp, now:
   * `not_connected` unless a fleet holds the number and it is connected
   * (nothing is queued: the client hears at once, within WhatsApp's window).
   */
  async act<M extends "message.edit" | "message.revoke">(method: M, params: Params<M>): Promise<CommandResult<M>> {
    if (!(await this.#meta())) return { ok: false, code: "not_found", message: "no such instance" };
    const holder = this.#lease.liveHolder();
    if (!holder || (await this.status())?.state !== "connected") {
      return { ok: false, code: "not_connected", message: "the number is not connected to WhatsApp right now" };
    }
    return this.command(method, params);
  }

  /**
   * Asks WhatsApp which of `phones` (digits; both forms of a Brazilian
   * mobile) are on it, spending `count` lookups of the hour's `budget` first.
   * Spent only when a fleet can ask; refused whole when the batch does not fit.
   */
  async lookUp(phones: string[], count: number, budget: number): Promise<LookupResult> {
    if (!(await this.#meta())) return { ok: false, code: "not_found", message: "no such instance" };
    if (!this.#lease.liveHolder()) return { ok: false, code: "fleet_unavailable", message: "no fleet process is running this instance" };
    const spent = await this.#lookups.spend(count, budget);
    if (!spent.ok) {
      const message = `this number's phone lookup budget (${budget} an hour) is spent: ${spent.remaining} left, ${count} needed`;
      return { ok: false, code: "rate_limited", message, retry_after_s: spent.retry_after_s };
    }
    return this.command("contacts.resolve", { phones });
  }

  /** One edge -> fleet -> edge frame round trip, in ms as seen from here. */
  async ping(): Promise<CommandResult<"echo"> & { rtt_ms?: number }> {
    const started = Date.now();
    const result = await this.command("echo", { at: started });
    return result.ok ? { ...result, rtt_ms: Date.now() - started } : result;
  }

  /** Logout with no fleet to tell WhatsApp: forget the session here. */
  async forgetSession(): Promise<void> {
    this.#session.clear();
    await this.#presence.forget();
    await this.#status.apply({ ...INITIAL_STATUS, state: "disconnected", reason: "logged_out" }, null);
  }

  /** The instance was deleted: drop the fleet and everything stored here. */
  async destroy(): Promise<void> {
    this.#lease.dropAll(CloseCode.deleted, "instance deleted");
    await this.ctx.storage.deleteAll();
    this.#storage.forget();
    // deleteAll dropped the tables as well; work still in flight here (a send, a drain) finds them empty.
    createTables(this.ctx.storage.sql, INSTANCE_TABLES);
  }

  // ------------------------------------------------------------ the fleet's WebSocket (fleet-link.ts)

  async fetch(request: Request): Promise<Response> {
    return this.#link.accept(request);
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#link.message(ws, message);
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.#link.gone(ws);
    closeSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    await this.#link.gone(ws);
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
    return this.#link.receivedFromSpool(message, mappings);
  }

  /** Where such a fleet puts a received file: `POST /fleet/instances/{id}/media-upload-url`. */
  async uploadTicketFor(file: Params<"media.upload_url">): Promise<CommandResult<"media.upload_url">> {
    return this.#link.uploadTicketFor(file);
  }

  #meta(): Promise<InstanceMeta | undefined> {
    return this.#storage.get("meta");
  }

  async #scope(): Promise<{ project_id: string; instance_id: string }> {
    const meta = await this.#meta();
    if (!meta) throw new ProtocolError("not_found", "no such instance");
    return meta;
  }
}

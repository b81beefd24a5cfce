/**
 * The number's link to the fleet process that runs it, inside the instance's
 * Durable Object: the WebSocket it accepts (or refuses: protocol version,
 * lease held), and what arrives on it: the fleet's events (status, message
 * status, LID pairs, presence, group changes, release) and its requests
 * (session, received messages, calls, upload tickets). The object's other
 * parts do the work; this file only routes frames to them, so a new frame
 * type is one entry in `peer`'s tables.
 *
 * A received message and its upload ticket also come over HTTP from a fleet
 * that lost the link while the message waited in its spool
 * (`receivedFromSpool`, `uploadTicketFor`); they end where the link's
 * frames do, so a repeat by either path is the same message.
 */
import {
  CloseCode,
  type InboundMessage,
  type IncomingCall,
  LEASE_TTL_MS,
  type LidMapping,
  type MethodName,
  PROTOCOL_VERSION,
  type Params,
  ProtocolError,
  type Result,
  eventFrame,
} from "../../shared/protocol.ts";
import { RpcPeer } from "../../shared/rpc.ts";
import type { Env } from "../env.ts";
import { type CallLedger, receiveCall } from "../services/calls.ts";
import { publishGroupParticipants, publishGroupUpdated } from "../services/group-events.ts";
import { learnMappings } from "../services/identity.ts";
import { type InboundHooks, receiveMessage } from "../services/inbound.ts";
import { MediaUnavailable, uploadTicket } from "../services/media-store.ts";
import { type NumberSettings, defaultNumberSettings } from "../services/number-settings.ts";
import type { AvatarFetches } from "./avatars.ts";
import type { GroupSubjects } from "./group-subjects.ts";
import type { InboundDedup } from "./inbound-dedup.ts";
import { type InstanceStatus, parkedReason } from "./instance-status.ts";
import { type InstanceMeta, type InstanceStorage, callKey } from "./instance-storage.ts";
import { type Lease, closeSocket } from "./lease.ts";
import type { PresenceWatch } from "./presence.ts";
import type { ReadReceipts } from "./read-receipts.ts";
import type { Sender } from "./sender.ts";
import { SessionTable } from "./session-table.ts";

export type CommandResult<M extends MethodName> =
  | { ok: true; result: Result<M> }
  | { ok: false; code: string; message: string };

/** The parts of the Durable Object the fleet's frames reach. */
export type FleetLinkHost = {
  ctx: DurableObjectState;
  env: Env;
  storage: InstanceStorage;
  lease: Lease;
  session: SessionTable;
  status: InstanceStatus;
  inbound: InboundDedup;
  sender: Sender;
  receipts: ReadReceipts;
  presence: PresenceWatch;
  groups: GroupSubjects;
  avatars: AvatarFetches;
  /** The number's settings (null for no instance), which a received message obeys. */
  numberSettings(): Promise<NumberSettings | null>;
  scope(): Promise<{ project_id: string; instance_id: string }>;
};

export class FleetLink {
  #host: FleetLinkHost;
  #peers = new Map<WebSocket, RpcPeer>();
  /** LID mappings being learned, in arrival order; received messages wait for them. */
  #learning: Promise<void> = Promise.resolve();

  constructor(host: FleetLinkHost) {
    this.#host = host;
  }

  // ------------------------------------------------------------ the WebSocket

  /** A fleet process asks for the number: the lease, or a refusal it can act on. */
  async accept(request: Request): Promise<Response> {
    const { lease, status } = this.#host;
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const url = new URL(request.url);
    const fleetId = url.searchParams.get("fleet_id");
    const meta = await this.#meta();
    if (!meta) return new Response("no such instance", { status: 404 });
    if (!fleetId) return new Response("fleet_id is required", { status: 400 });

    const { 0: client, 1: server } = new WebSocketPair();
    if (Number(url.searchParams.get("v") ?? PROTOCOL_VERSION) !== PROTOCOL_VERSION) {
      server.accept();
      server.close(CloseCode.badVersion, `this edge speaks protocol v${PROTOCOL_VERSION}`);
      return new Response(null, { status: 101, webSocket: client });
    }

    const retryAfter = await lease.blockedFor(fleetId);
    if (retryAfter > 0) {
      // Not hibernatable on purpose: this socket lives for one frame.
      server.accept();
      server.send(eventFrame("lease.denied", { retry_after_ms: retryAfter, holder: await lease.holderId() }));
      server.close(CloseCode.leaseHeld, "lease held by another fleet process");
      return new Response(null, { status: 101, webSocket: client });
    }

    await lease.grant(server, fleetId);
    const parked = parkedReason(await status.get());
    server.send(
      eventFrame("lease.granted", {
        instance_id: meta.instance_id,
        ttl_ms: LEASE_TTL_MS,
        config: { name: meta.name, proxy_url: meta.proxy_url, ...(parked ? { parked } : {}) },
      }),
    );
    await status.mirror({ fleet_id: fleetId });
    lease.granted();
    this.#host.sender.wake();
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (!this.#host.lease.isHolder(ws)) return closeSocket(ws, CloseCode.leaseHeld, "not the lease holder");
    if (typeof message !== "string") return closeSocket(ws, 1003, "text frames only");
    try {
      await this.peer(ws).receive(message);
    } catch (err) {
      // A frame we cannot read is the fleet's bug; say so in the logs, keep the link.
      console.warn(`instance ${this.#host.ctx.id}: dropped a frame:`, err instanceof Error ? err.message : err);
    }
  }

  /** The socket closed or failed: its calls fail now, and the lease lapses. */
  async gone(ws: WebSocket): Promise<void> {
    this.#peers.get(ws)?.failAll("fleet link closed");
    this.#peers.delete(ws);
    const fleetId = await this.#host.lease.lapse(ws);
    if (fleetId) await this.#host.status.markGone(fleetId);
  }

  /** The holder let go cleanly (drain, revoke). */
  async #release(ws: WebSocket): Promise<void> {
    const fleetId = await this.#host.lease.release(ws);
    if (!fleetId) return;
    await this.#host.status.markGone(fleetId);
    closeSocket(ws, CloseCode.normal, "released");
  }

  // ------------------------------------------------------------ frames from the fleet

  /** The RPC peer on one fleet socket (made on first use: a hibernated object has none). */
  peer(ws: WebSocket): RpcPeer {
    let peer = this.#peers.get(ws);
    if (peer) return peer;
    const { env, storage, lease, session, status, sender, presence, groups } = this.#host;
    peer = new RpcPeer({
      send: (text) => ws.send(text),
      // A send answered after the sender gave up on it (timeout, or the object restarted meanwhile): the send will be
      // retried, but the ratchet step its answer carries happened, and the fleet counts on it being stored.
      late: (result) => {
        const entries = SessionTable.entriesOf((result as { session?: unknown } | null)?.session);
        if (entries) session.set(entries);
      },
      events: {
        status: async (data) => {
          await status.apply(data, lease.fleetOf(ws));
          if (data.state === "disconnected" && data.reason === "logged_out") await presence.forget();
        },
        release: () => this.#release(ws),
        "message.status": async (data) => {
          const meta = await this.#meta();
          if (meta) sender.onStatus(data, meta.project_id);
        },
        "socket.silent": async ({ silent_ms }) => {
          const meta = await this.#meta();
          if (!meta) return;
          const count = ((await storage.get("dead_sockets")) ?? 0) + 1;
          await storage.put("dead_sockets", count);
          await status.mirror({ dead_socket_reconnects: count });
          console.warn(`instance ${meta.instance_id}: WhatsApp socket silent for ${silent_ms} ms, replaced (${count} so far)`);
        },
        "lid.mappings": ({ mappings }) => this.#learn(mappings),
        "presence.update": async (update) => {
          const meta = await this.#meta();
          if (meta) await presence.heard(meta, update);
        },
        "group.updated": async (update) => {
          if (update.subject !== undefined) await groups.remember(update.jid, update.subject);
          const meta = await this.#meta();
          if (meta) await publishGroupUpdated(env, meta, update);
        },
        "group.participants": async (change) => {
          const meta = await this.#meta();
          if (meta) await publishGroupParticipants(env, meta, change);
        },
      },
      methods: {
        "session.get": ({ keys }) => ({ values: session.get(keys) }),
        "session.set": ({ entries }) => ({ written: session.set(entries) }),
        "session.clear": () => ({ cleared: session.clear() }),
        "message.received": (message) => this.#receive(message),
        "call.received": (call) => this.#call(ws, call),
        "media.upload_url": (file) => this.#uploadTicket(file),
      },
    });
    this.#peers.set(ws, peer);
    return peer;
  }

  // ------------------------------------------------------------ received messages over HTTP

  /** A spooled received message, with the LID pairs it needs (see the header). */
  async receivedFromSpool(message: InboundMessage, mappings: LidMapping[]): Promise<CommandResult<"message.received">> {
    return this.#answer(async () => {
      await this.#host.scope();
      // As on the link, a pair that fails to be learned (logged) does not hold the message back.
      if (mappings.length > 0) await this.#learn(mappings).catch(() => {});
      return this.#receive(message);
    });
  }

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

  // ------------------------------------------------------------ what the fleet hands over

  /** LID pairs, learned in arrival order: the fleet sends a message's pairs just before it, and the message waits for them. */
  async #learn(mappings: LidMapping[]): Promise<void> {
    const meta = await this.#meta();
    if (!meta) return;
    const learned = this.#learning.then(() => learnMappings(this.#host.env, meta.project_id, meta.instance_id, mappings));
    this.#learning = learned.catch((err: unknown) => {
      console.error(`instance ${meta.instance_id}: learning LID mappings failed:`, err instanceof Error ? err.message : err);
    });
    await learned;
  }

  async #uploadTicket(file: Params<"media.upload_url">): Promise<Result<"media.upload_url">> {
    try {
      return await uploadTicket(this.#host.env, await this.#host.scope(), file);
    } catch (err) {
      if (err instanceof MediaUnavailable) throw new ProtocolError(err.code, err.message);
      throw err;
    }
  }

  /** Stores one received message and announces it; answered only then, so the fleet can let go of it. */
  async #receive(message: InboundMessage): Promise<Result<"message.received">> {
    const { env, inbound, receipts, groups, avatars } = this.#host;
    const scope = await this.#host.scope();
    await this.#learning;
    const hooks: InboundHooks = {
      number: (await this.#host.numberSettings()) ?? defaultNumberSettings(),
      autoRead: (key) => receipts.add([key]),
      groupSubject: (jid) => groups.subjectOf(jid),
      fetchAvatar: (contact) => avatars.add(contact),
    };
    return inbound.once(message.wa_message_id, () => receiveMessage(env, scope, message, hooks));
  }

  /** A call to the number: declined through the fleet that reported it when the project says so, then announced once. */
  async #call(ws: WebSocket, call: IncomingCall): Promise<Result<"call.received">> {
    const { env, storage } = this.#host;
    const scope = await this.#host.scope();
    const ledger: CallLedger = {
      get: (callId) => storage.get(callKey(callId)),
      put: (callId, done) => storage.put(callKey(callId), done),
    };
    const reject = async ({ call_id, from }: IncomingCall) => {
      try {
        await this.peer(ws).call("call.reject", { call_id, from }, 20_000);
        return true;
      } catch (err) {
        console.warn(`instance ${scope.instance_id}: call ${call_id} not rejected:`, err instanceof Error ? err.message : err);
        return false;
      }
    };
    return receiveCall(env, scope, call, ledger, reject);
  }

  #meta(): Promise<InstanceMeta | undefined> {
    return this.#host.storage.get("meta");
  }
}

/**
 * A number's live status (state, reason, QR, who it is on WhatsApp), as its
 * fleet process reports it, kept by the number's Durable Object. Applying a
 * status stores it, mirrors it to D1 (the `instances` row's live columns:
 * this is their only writer), counts what it costs the number's health, and
 * announces it when it is news (instance-events.ts says which changes are).
 */
import { phoneFromJid } from "../../shared/jid.ts";
import type { DisconnectReason, StatusEvent } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { type InstanceStatusPatch, updateInstanceStatus } from "../db/instances.ts";
import type { Env } from "../env.ts";
import { publish } from "../services/events.ts";
import { type IncidentKind, incidentFor } from "../services/health.ts";
import { Incidents } from "./incidents.ts";
import { type InstanceEventType, announcedFrom, instanceEvent } from "./instance-events.ts";
import type { InstanceMeta, InstanceStorage, Status } from "./instance-storage.ts";

export const INITIAL_STATUS: StatusEvent = {
  state: "connecting",
  reason: null,
  close_code: null,
  qr: null,
  qr_png: null,
  jid: null,
  lid: null,
  push_name: null,
};

export class InstanceStatus {
  readonly #env: Env;
  readonly #storage: InstanceStorage;
  readonly #incidents: Incidents;
  /** The number came online: its queue may move. */
  readonly #connected: () => void;

  constructor(env: Env, storage: InstanceStorage, connected: () => void) {
    this.#env = env;
    this.#storage = storage;
    this.#incidents = new Incidents(storage);
    this.#connected = connected;
  }

  async get(): Promise<Status | null> {
    return (await this.#storage.get("status")) ?? null;
  }

  /** The status a new instance starts with. */
  initial(): Status {
    return { ...INITIAL_STATUS, fleet_id: null, updated_at: now() };
  }

  async apply(event: StatusEvent, fleetId: string | null): Promise<void> {
    const meta = await this.#storage.get("meta");
    if (!meta) return;
    const previous = await this.get();
    const announced = (await this.#storage.get("announced")) ?? announcedFrom(previous);
    await this.#storage.put("status", { ...event, fleet_id: fleetId, updated_at: now() });
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
    const everConnected = Boolean(await this.#storage.get("first_connected_at"));
    if (event.state === "connected" && !everConnected) {
      // Warming counts its days from the first time the number is online with us.
      const firstConnectedAt = now();
      await this.#storage.put("first_connected_at", firstConnectedAt);
      patch.first_connected_at = firstConnectedAt;
    }
    await this.#write(meta, patch);
    const news = instanceEvent(announced, previous?.qr ?? null, event);
    const incident = incidentFor(news?.type ?? null, event, everConnected);
    if (incident) await this.incident(incident);
    if (event.state === "connected") this.#connected();
    if (event.jid) await this.#storage.put("jid", event.jid);
    if (!news) return;
    await this.#storage.put("announced", news.announced);
    await this.#announce(meta, news.type, event);
  }

  /** No fleet runs the number now: unless it is parked (logged out, banned, pairing expired) it is reconnecting. */
  async markGone(fleetId: string): Promise<void> {
    const status = await this.get();
    if (!status || status.fleet_id !== fleetId) return;
    const next = parkedReason(status)
      ? status
      : { ...status, state: "disconnected" as const, reason: "transient" as const, qr: null, qr_png: null };
    await this.apply(next, null);
  }

  health(): Promise<number> {
    return this.#incidents.score();
  }

  async incident(kind: IncidentKind): Promise<void> {
    const health = await this.#incidents.record(kind);
    // Mirrored at once: below the threshold the number must leave rotation now, not later.
    await this.mirror({ health });
  }

  /** Other columns of the number's D1 row this object keeps (fleet, counters). */
  async mirror(patch: InstanceStatusPatch): Promise<void> {
    const meta = await this.#storage.get("meta");
    if (meta) await this.#write(meta, patch);
  }

  /**
   * The same write, for a caller's batch (a send's move to `sent` carries the
   * counters); none before the number has its row.
   */
  async mirrorWrites(patch: InstanceStatusPatch): Promise<D1PreparedStatement[]> {
    const meta = await this.#storage.get("meta");
    return meta ? [updateInstanceStatus(db(this.#env.DB), meta.project_id, meta.instance_id, patch)] : [];
  }

  /** Publishes an `instance.*` event (see instance-events.ts for which changes are news). */
  async #announce(meta: InstanceMeta, type: InstanceEventType, next: StatusEvent): Promise<void> {
    // A drop's status does not repeat the number's JID; the last one known still names it.
    const jid = next.jid ?? (await this.#storage.get("jid")) ?? null;
    const payload = {
      state: next.state,
      reason: next.state === "disconnected" ? next.reason : null,
      close_code: next.close_code,
      jid,
      phone: phoneFromJid(jid),
      ...(type === "instance.qr" ? { qr: next.qr } : {}),
    };
    try {
      await publish(this.#env, meta.project_id, { type, instance_id: meta.instance_id, payload });
    } catch (err) {
      // The status itself is applied; losing its announcement must not undo that.
      console.error(`instance ${meta.instance_id}: ${type} not published:`, err instanceof Error ? err.message : err);
    }
  }

  async #write(meta: InstanceMeta, patch: InstanceStatusPatch): Promise<void> {
    await updateInstanceStatus(db(this.#env.DB), meta.project_id, meta.instance_id, patch).run();
  }
}

const now = () => new Date().toISOString();

/** Why the number is parked (no fleet should connect it by itself), or null when it should run. */
export function parkedReason(status: StatusEvent | null): Exclude<DisconnectReason, "transient"> | null {
  return status?.state === "disconnected" && status.reason && status.reason !== "transient" ? status.reason : null;
}

/**
 * One number's link: its lease (who runs it, for how long), the status the
 * fleet reports about its socket, and the directory's hello / assign / revoke.
 */
import { z } from "zod";

/** How long a lease lives without a `pong`; the fleet pings well inside it. */
export const LEASE_TTL_MS = 15_000;
export const PING_INTERVAL_MS = 3_000;
/** A fleet kills its socket this long before the edge would consider the lease expired. */
export const LEASE_FENCE_MARGIN_MS = 3_000;

export const InstanceState = z.enum(["qr_pending", "connecting", "connected", "disconnected"]);
export type InstanceState = z.infer<typeof InstanceState>;

/**
 * Why a number is disconnected: `transient` (it reconnects by itself),
 * `logged_out` (rescan needed), `banned` (out of rotation), `pairing_expired`
 * (nobody scanned its QRs; it waits for a restart or a new QR/pairing-code
 * request). All but `transient` park the number: no fleet reconnects it by itself.
 */
export const DisconnectReason = z.enum(["transient", "logged_out", "banned", "pairing_expired"]);
export type DisconnectReason = z.infer<typeof DisconnectReason>;

/** What a fleet reports about one instance's socket. Sent on every change. */
export const StatusEvent = z.object({
  state: InstanceState,
  reason: DisconnectReason.nullable().default(null),
  /** Baileys/WhatsApp close code of the last disconnect, if any. */
  close_code: z.number().int().nullable().default(null),
  /** Current QR string while `qr_pending`. */
  qr: z.string().nullable().default(null),
  /** The same QR as a PNG data URL, rendered by the fleet. */
  qr_png: z.string().nullable().default(null),
  /** Our own JID once known, e.g. `5511999999999:1@s.whatsapp.net`. */
  jid: z.string().nullable().default(null),
  lid: z.string().nullable().default(null),
  push_name: z.string().nullable().default(null),
});
export type StatusEvent = z.infer<typeof StatusEvent>;

export const LeaseGranted = z.object({
  instance_id: z.string(),
  ttl_ms: z.number().int(),
  config: z.object({
    name: z.string(),
    proxy_url: z.string().nullable(),
    /** Set when the number is parked (logged out, banned, pairing expired): hold it, do not connect until a command says so. */
    parked: DisconnectReason.optional(),
  }),
});
export type LeaseGranted = z.infer<typeof LeaseGranted>;

export const LeaseDenied = z.object({
  retry_after_ms: z.number().int(),
  holder: z.string().nullable(),
});
export type LeaseDenied = z.infer<typeof LeaseDenied>;

export const Hello = z.object({
  fleet_id: z.string().min(1),
  host: z.string(),
  pid: z.number().int(),
  /** Most instances this process will run; 0 = no limit. */
  capacity: z.number().int().min(0),
});
export type Hello = z.infer<typeof Hello>;

export const InstanceList = z.object({ instance_ids: z.array(z.string()) });

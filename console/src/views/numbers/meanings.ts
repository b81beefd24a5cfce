/**
 * What a number's state, reason and close code mean, in an operator's words.
 * The close codes are WhatsApp's, as Baileys reports them and the fleet acts
 * on them (fleet/close-codes.ts decides which ones reconnect).
 */
import type { Instance } from "../../types.ts";

/** Every event about a number (each carries its new state). */
export const INSTANCE_EVENTS = ["instance.connected", "instance.disconnected", "instance.logged_out", "instance.banned", "instance.qr"];

export const REASONS: Record<NonNullable<Instance["reason"]>, string> = {
  transient: "Dropped for a moment (network, WhatsApp restarting it); the fleet reconnects it by itself.",
  logged_out: "Logged out: the number was unlinked from the phone, or its session was invalidated. Pair it again.",
  banned: "WhatsApp banned or blocked this number. It stays out of rotation; the session is kept for a look.",
  pairing_expired: "Nobody scanned the QR in time, so pairing stopped. Start pairing again when the phone is at hand.",
};

export const STATES: Record<Instance["state"], string> = {
  qr_pending: "Waiting to be paired: scan the QR or type the pairing code on the phone.",
  connecting: "Opening its connection to WhatsApp.",
  connected: "Online: sending and receiving.",
  disconnected: "Not connected.",
};

export const CLOSE_CODES: Record<number, string> = {
  401: "logged out (unlinked from the phone)",
  402: "temporarily banned",
  403: "banned / forbidden by WhatsApp",
  405: "WhatsApp refused this WhatsApp Web version (the fleet updates it)",
  406: "banned (number unavailable)",
  408: "timed out (no answer from WhatsApp)",
  411: "multi-device mismatch",
  428: "connection closed (network or WhatsApp dropped it)",
  440: "replaced: another session opened this number",
  500: "bad session (WhatsApp could not read it)",
  503: "WhatsApp unavailable for a moment",
  515: "restart required (normal right after pairing)",
};

export const closeMeaning = (code: number | null) => (code === null ? null : (CLOSE_CODES[code] ?? "unknown close code"));

/** What to tell the operator about a number's state, most specific first. */
export const stateMeaning = (n: Pick<Instance, "state" | "reason">) => (n.reason ? REASONS[n.reason] : STATES[n.state]);

/** The health score's colour: below the project's threshold the number leaves rotation. */
export function healthTone(health: number, threshold: number): "ok" | "warn" | "bad" {
  if (health < threshold) return "bad";
  if (health < threshold + 20) return "warn";
  return "ok";
}

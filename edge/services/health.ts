/**
 * A number's health, 0-100: 100 minus the weight of what went wrong lately.
 * Each incident counts fully at first and fades linearly over a day, so a
 * number that had a bad hour comes back into rotation by itself, while one
 * that keeps failing stays out. A ban is final: 0 until a human looks.
 */
import type { StatusEvent } from "../../shared/protocol.ts";
import type { EventType } from "./events.ts";

export type Incident = { kind: IncidentKind; at: number };
export type IncidentKind = "disconnect" | "send_failed" | "server_error" | "banned";

const WEIGHT: Record<IncidentKind, number> = {
  disconnect: 10,
  send_failed: 8,
  /** e.g. 463: WhatsApp refusing our messages, the strongest warning short of a ban. */
  server_error: 30,
  banned: 100,
};
const FADE_MS = 86_400_000;
/** Enough history to score with; older ones have faded anyway. */
export const MAX_INCIDENTS = 200;

export function healthScore(incidents: Incident[], now = Date.now()): number {
  if (incidents.some((i) => i.kind === "banned")) return 0;
  let penalty = 0;
  for (const incident of incidents) {
    const age = now - incident.at;
    if (age < FADE_MS) penalty += WEIGHT[incident.kind] * (1 - age / FADE_MS);
  }
  return Math.max(0, Math.min(100, Math.round(100 - penalty)));
}

/** Keeps the list short: drops faded incidents and caps its length. */
export function recordIncident(incidents: Incident[], kind: IncidentKind, now = Date.now()): Incident[] {
  return [...incidents.filter((i) => now - i.at < FADE_MS || i.kind === "banned"), { kind, at: now }].slice(-MAX_INCIDENTS);
}

/**
 * What an announced status change costs. Only changes are announced, never
 * retries (see instance-events.ts), so a drop costs once per outage however
 * long the reconnect loop runs. It costs only when WhatsApp closed the
 * socket (a fleet process going away is not the number's doing) of a number
 * that has connected before: pairing, and an instance that cannot reach
 * WhatsApp yet, cost nothing.
 */
export function incidentFor(event: EventType | null, next: StatusEvent, everConnected: boolean): IncidentKind | null {
  if (event === "instance.banned") return "banned";
  const drop = event === "instance.disconnected" || event === "instance.logged_out";
  return drop && everConnected && next.close_code !== null ? "disconnect" : null;
}

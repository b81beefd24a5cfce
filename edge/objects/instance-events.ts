/**
 * Which `instance.*` event a number's new status is, if any.
 *
 * A status is compared with what clients were last TOLD, not with the last
 * status: a number that cannot connect goes disconnected -> connecting ->
 * disconnected on every retry, and an unpaired one ends each batch of QRs the
 * same way. Those retries keep the status truthful (GET /instances shows
 * them) but are not news. News is: a new QR, coming online, a connected
 * number dropping, and a change of why a number is down (logged out, banned,
 * pairing expired).
 */
import type { DisconnectReason, StatusEvent } from "../../shared/protocol.ts";
import type { EventType } from "../services/events.ts";

export type InstanceEventType = Extract<EventType, `instance.${string}`>;

/** What the last `instance.*` event said about the number. */
export type Announced = { state: "qr_pending" | "connected" | "disconnected"; reason: DisconnectReason | null };

/** For objects that predate the record: the last status stands for what was announced. */
export function announcedFrom(status: StatusEvent | null): Announced | null {
  if (!status || status.state === "connecting") return null;
  return { state: status.state, reason: status.state === "disconnected" ? status.reason : null };
}

/** The event `next` makes, and the record to keep once it is announced; null when it is no news. */
export function instanceEvent(
  announced: Announced | null,
  previousQr: string | null,
  next: StatusEvent,
): { type: InstanceEventType; announced: Announced } | null {
  const type = eventType(announced, previousQr, next);
  if (!type || next.state === "connecting") return null;
  return { type, announced: { state: next.state, reason: next.state === "disconnected" ? next.reason : null } };
}

function eventType(announced: Announced | null, previousQr: string | null, next: StatusEvent): InstanceEventType | null {
  switch (next.state) {
    case "qr_pending":
      return next.qr && next.qr !== previousQr ? "instance.qr" : null;
    case "connected":
      return announced?.state === "connected" ? null : "instance.connected";
    case "disconnected":
      if (announced?.state === "disconnected" && announced.reason === next.reason) return null;
      // A transient failure is a drop only for a number that was online; otherwise it is a retry.
      if (next.reason === "transient" && announced?.state !== "connected") return null;
      if (next.reason === "logged_out") return "instance.logged_out";
      if (next.reason === "banned") return "instance.banned";
      return "instance.disconnected";
    default:
      return null;
  }
}

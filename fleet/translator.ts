/**
 * Baileys events -> wire protocol frames.
 *
 * Pure functions only: everything here can be unit-tested without a socket,
 * and the connection manager keeps the side effects (clearing sessions,
 * reconnecting) to itself.
 */
import type { ConnectionState, Contact } from "@whiskeysockets/baileys";
import { classifyClose } from "../shared/close-codes.ts";
import type { StatusEvent } from "../shared/protocol.ts";

/** Baileys reports why a socket closed as a Boom error; its status code is what classifyClose reads. */
export function closeCodeOf(update: Pick<Partial<ConnectionState>, "lastDisconnect">): number | null {
  const error = update.lastDisconnect?.error as { output?: { statusCode?: unknown } } | undefined;
  const code = error?.output?.statusCode;
  return typeof code === "number" && Number.isInteger(code) ? code : null;
}

export function emptyStatus(state: StatusEvent["state"]): StatusEvent {
  return { state, reason: null, close_code: null, qr: null, qr_png: null, jid: null, lid: null, push_name: null };
}

export type StatusContext = {
  /** `sock.user`, once known. */
  user?: Contact | null;
  /** The QR already rendered as a PNG data URL (rendering is async, so it happens outside). */
  qrPng?: string | null;
};

/**
 * The status a `connection.update` leads to, or null when the update changes
 * nothing an operator sees (e.g. `receivedPendingNotifications`).
 */
export function statusFromConnectionUpdate(update: Partial<ConnectionState>, ctx: StatusContext = {}): StatusEvent | null {
  if (update.qr) {
    return { ...emptyStatus("qr_pending"), qr: update.qr, qr_png: ctx.qrPng ?? null };
  }
  switch (update.connection) {
    case "connecting":
      return emptyStatus("connecting");
    case "open":
      return {
        ...emptyStatus("connected"),
        jid: ctx.user?.id ?? null,
        lid: ctx.user?.lid ?? null,
        // For our own account Baileys keeps the push name in `name`.
        push_name: ctx.user?.name ?? ctx.user?.notify ?? null,
      };
    case "close": {
      const code = closeCodeOf(update);
      return { ...emptyStatus("disconnected"), reason: classifyClose(code).reason, close_code: code };
    }
    default:
      return null;
  }
}

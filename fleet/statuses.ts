/**
 * Statuses from Baileys' events: the number's (`connection.update` ->
 * `status`) and its sent messages' (`messages.update`, receipts ->
 * `message.status`).
 *
 * Pure functions only: everything here can be unit-tested without a socket,
 * and the connection manager keeps the side effects (clearing sessions,
 * reconnecting) to itself.
 */
import {
  type ConnectionState,
  type Contact,
  type MessageUserReceiptUpdate,
  type WAMessageUpdate,
  proto,
} from "@whiskeysockets/baileys";
import { classifyClose } from "./close-codes.ts";
import type { MessageStatusEvent, StatusEvent } from "../shared/protocol.ts";

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

// ---------------------------------------------------------------- message status

const STATUS = proto.WebMessageInfo.Status;

/** WhatsApp's message status -> ours; PENDING (not yet at the server) is nothing to report. */
const STATUS_NAMES = new Map<number, MessageStatusEvent["status"]>([
  [STATUS.SERVER_ACK, "sent"],
  [STATUS.DELIVERY_ACK, "delivered"],
  [STATUS.READ, "read"],
  [STATUS.PLAYED, "played"],
  [STATUS.ERROR, "failed"],
]);

/**
 * A `messages.update` entry -> a `message.status` event, for messages this
 * number sent. Receipts of one-to-one chats arrive this way (delivered, read,
 * played), and so do the server's late verdicts: an ERROR carries the
 * server's code (e.g. "463": the account may not start this chat) as the
 * first stub parameter.
 */
export function statusFromMessageUpdate(update: WAMessageUpdate): MessageStatusEvent | null {
  const { key } = update;
  const code = update.update.status;
  if (!key.fromMe || !key.id || !key.remoteJid || typeof code !== "number") return null;
  const status = STATUS_NAMES.get(code);
  if (!status) return null;
  const errorCode = status === "failed" ? (update.update.messageStubParameters?.[0] ?? null) : null;
  return { wa_message_id: key.id, chat_jid: key.remoteJid, status, error_code: errorCode };
}

/**
 * A `message-receipt.update` entry -> a `message.status` event. Groups report
 * receipts per participant this way; the message counts as delivered (read,
 * played) once anyone's receipt says so.
 */
export function statusFromReceiptUpdate(update: MessageUserReceiptUpdate): MessageStatusEvent | null {
  const { key, receipt } = update;
  if (!key.fromMe || !key.id || !key.remoteJid) return null;
  const status = receipt.playedTimestamp ? "played" : receipt.readTimestamp ? "read" : receipt.receiptTimestamp ? "delivered" : null;
  if (!status) return null;
  return { wa_message_id: key.id, chat_jid: key.remoteJid, status, error_code: null };
}

const RANK: Record<MessageStatusEvent["status"], number> = { sent: 1, delivered: 2, read: 3, played: 4, failed: 5 };

/**
 * Remembers the furthest status reported per message, so that a group's
 * receipts (one per participant) become one event per step, not one per
 * member. Bounded: the oldest messages are forgotten first.
 */
export class StatusSteps {
  #seen = new Map<string, number>();
  #max: number;

  constructor(max = 256) {
    this.#max = max;
  }

  /** True if `event` moves its message further than anything reported before. */
  advance(event: MessageStatusEvent): boolean {
    const before = this.#seen.get(event.wa_message_id) ?? 0;
    const rank = RANK[event.status];
    if (rank <= before) return false;
    this.#seen.delete(event.wa_message_id);
    this.#seen.set(event.wa_message_id, rank);
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.keys().next().value as string);
    return true;
  }
}

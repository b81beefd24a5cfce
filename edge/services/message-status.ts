/**
 * Owner of `messages` and `message_statuses`: the only module that writes
 * them, and the one place that says how a message's status moves.
 *
 *   ours       queued -> sent -> delivered -> read -> played
 *              queued | sent -> failed (with a reason)
 *              queued -> canceled (called off before it left)
 *   received   received
 *   both       sent | delivered | read | played | received -> deleted
 *              (revoked for everyone: a tombstone, the reason says by whom)
 *
 * A message never moves backwards (a late "sent" does not undo "read"): a
 * step that would is dropped. Every move is written with its step in the
 * message's history, in one batch.
 *
 * Who moves a message:
 * - accepting a send (messages.ts): `queued`; `failed` with `enqueue_failed`
 *   when its number's queue refused it (the client was told to send again);
 * - the number's sender, through its send journal (objects/sender.ts):
 *   `sent`; `failed` with `expired`, `send_failed`, `server_error_<code>` or
 *   a permanent error's code; and WhatsApp's receipts (`delivered`, `read`,
 *   `played`, or a late `failed`);
 * - a received message (inbound.ts): `received`, or `sent` for one written
 *   on the number's own phone app;
 * - a client's cancel or delete, and a revoke WhatsApp reports: `canceled`,
 *   `deleted`.
 * A message's body changes only by an edit (`recordEdit`), never once it is
 * deleted or before it was sent. A received message is stamped `read_at`
 * once its number read it (`markReadByNumber`): its status stays `received`.
 * The other writes file a message under its contact and conversation
 * (sent-messages.ts, identity.ts) or free its Idempotency-Key (idempotency.ts).
 */
import type { MessageStatusEvent } from "../../shared/protocol.ts";
import type { MessageActor } from "../enums.ts";
import type { Db } from "../db/client.ts";
import {
  type MessageRef,
  advanceMessageStatus,
  byWaId,
  editMessageBody,
  insertMessage,
  insertReceived,
  insertReceivedFiledSql,
  moveMessages,
  receivedHistorySql,
  releaseIdempotencyKey,
  stampConversation,
  stampFoundConversationSql,
  stampRead,
} from "../db/message-writes.ts";
import type { MessageRow } from "../db/schema/index.ts";
import { countMove, countReceived } from "./metrics.ts";

export type MessageStatus = MessageRow["status"];

/** The statuses a message may move to each status from. */
const FROM: Record<MessageStatus, readonly MessageStatus[]> = {
  queued: [],
  received: [],
  sent: ["queued"],
  delivered: ["queued", "sent"],
  read: ["queued", "sent", "delivered"],
  played: ["queued", "sent", "delivered", "read"],
  failed: ["queued", "sent"],
  canceled: ["queued"],
  deleted: ["sent", "delivered", "read", "played", "received"],
};

/** Statuses in which a message's body stays as it is: not sent yet, never sent, or gone. */
const NOT_EDITABLE: readonly MessageStatus[] = ["queued", "failed", "canceled", "deleted"];

type Move = Parameters<typeof advanceMessageStatus>[3];
type Also = Parameters<typeof advanceMessageStatus>[6];

/** The move's batch: the message as it is after the move (null when it is already past it: nothing is written, nothing counted), and what `also` gave. */
const moveWith = (d1: Db, projectId: string, id: MessageRef, patch: Move, also?: Also) =>
  advanceMessageStatus(d1, projectId, id, patch, FROM[patch.status], (parts) => countMove(patch, parts), also);

/** The message as it is after the move, or null when it is already past it. */
const move = async (d1: Db, projectId: string, id: MessageRef, patch: Move) => (await moveWith(d1, projectId, id, patch)).moved;

// ------------------------------------------------------------ ours

/** An accepted send, stored `queued` with the first step of its history. */
export const acceptMessage = (d1: Db, row: MessageRow & { status: "queued" }) => insertMessage(d1, row);

/** The number's queue refused an accepted send: it fails as `enqueue_failed`, and its Idempotency-Key may be used again. */
export const notQueued = (d1: Db, projectId: string, id: string) => move(d1, projectId, id, { status: "failed", reason: "enqueue_failed" });

/**
 * WhatsApp took the message. `also`: other writes of that moment in the
 * same batch (the number's counters; the message's filing, made to depend
 * on the move: sent-messages.ts), whose results come back beside the row.
 */
export const markSent = (
  d1: Db,
  projectId: string,
  id: string,
  sent: Pick<MessageRow, "sent_at" | "message_secret" | "poll_message">,
  also: Also = [],
) => moveWith(d1, projectId, id, { status: "sent", ...sent }, also);

/** The message will not leave (or WhatsApp refused it), for this reason. */
export const markFailed = (d1: Db, projectId: string, id: string, reason: string) => move(d1, projectId, id, { status: "failed", reason });

/** What WhatsApp said of a message this number sent (a receipt, or a late refusal); the message as moved, or null. */
export async function applyReceipt(d1: Db, projectId: string, instanceId: string, event: MessageStatusEvent): Promise<MessageRow | null> {
  // Found by its WhatsApp id inside the move's own statements: a receipt costs one D1 round trip.
  const message = byWaId(instanceId, event.wa_message_id);
  if (event.status !== "failed") return move(d1, projectId, message, { status: event.status });
  return move(d1, projectId, message, { status: "failed", reason: `server_error_${event.error_code ?? "unknown"}` });
}

/** A queued send is called off: it never leaves. Null when it is no longer queued. */
export const cancelQueued = (d1: Db, projectId: string, id: string) => move(d1, projectId, id, { status: "canceled" });

// ------------------------------------------------------------ edits and deletes (ours and theirs)

/**
 * A message's body was edited (by `by`): `content` is the message's content
 * with the new body. Null, and nothing written, when the message is not
 * editable (queued, failed, canceled, deleted), or when the edit WhatsApp
 * reported as `wa_message_id` was already applied (a repeat).
 */
export const recordEdit = (
  d1: Db,
  projectId: string,
  id: string,
  edit: { content: Record<string, unknown>; previous_body: string | null; body: string; by: MessageActor; wa_message_id?: string | null },
) => editMessageBody(d1, projectId, id, edit, NOT_EDITABLE);

/**
 * A message was deleted for everyone (by `by`): a tombstone. `scrub`
 * replaces its content and drops its media (a customer's message is theirs
 * to take back); our own keep theirs. Null when it was not in a deletable status.
 */
export const markDeleted = (d1: Db, projectId: string, id: string, by: MessageActor, scrub?: { content: Record<string, unknown> }) =>
  move(d1, projectId, id, { status: "deleted", reason: `deleted_by_${by}`, ...(scrub ? { content: scrub.content, media_id: null } : {}) });

/** Frees a message's Idempotency-Key for a new request (the message itself stays). */
export const releaseKey = (d1: Db, projectId: string, id: string) => releaseIdempotencyKey(d1, projectId, id);

// ------------------------------------------------------------ received

/**
 * A received message (or one written on the number's own phone, `sent`)
 * and its first history step, for inbound's batch; stored once per number
 * and WhatsApp id, so a resend inserts nothing (and counts nothing: the
 * third statement counts it as received, when it is).
 */
export const storeReceived = (d1: Db, row: MessageRow & { status: "received" | "sent" }) => [...insertReceived(d1.$client, row), countReceived(d1, row.id)] as const;

/**
 * The same for a customer's message filed as its conversation is found
 * (received-filing.ts), as SQL text for statements written once: the
 * insert (see insertReceivedFiledSql) and its first history entry; the
 * count is `countReceived`'s.
 */
export const storeReceivedFiledSql = (p: Parameters<typeof insertReceivedFiledSql>[0]) => [insertReceivedFiledSql(p), receivedHistorySql(p.id)] as const;

/**
 * The number read these received messages: their read receipts are queued
 * on its object (read-receipts.ts), so none is receipted twice. A message
 * already stamped keeps its first time.
 */
export const markReadByNumber = (d1: Db, projectId: string, ids: string[], at = new Date().toISOString()) => stampRead(d1, projectId, ids, at);

// ------------------------------------------------------------ where a message is filed

/** A sent message joins its contact's conversation, for a batch. */
export const joinConversation = (d1: Db, projectId: string, id: string, link: { contact_id: string; conversation_id: string }) =>
  stampConversation(d1, projectId, id, link);

/** The same as SQL text, for the move to `sent`'s batch: only if it moved the message and the link's subqueries found a conversation; its RETURNING is the link. */
export const joinFoundConversationSql = (p: Parameters<typeof stampFoundConversationSql>[0]) => stampFoundConversationSql(p);

/**
 * A LID's messages follow it to the phone's contact and chat JID once the
 * phone is known (see moveMessages), for identity's batch.
 */
export const moveToContact = (d1: Db, projectId: string, from: Parameters<typeof moveMessages>[2], to: Parameters<typeof moveMessages>[3]) =>
  moveMessages(d1, projectId, from, to);

/**
 * A client's actions on our own messages once accepted: `PATCH
 * /messages/{id}` edits a sent text or caption on WhatsApp, `DELETE
 * /messages/{id}` cancels a queued message or deletes a sent one for
 * everyone. The rules (each refusal a stable 409 code) live here; the
 * status machine and the edit history are message-status.ts's.
 *
 * Edits and deletes go to WhatsApp at once, through the number's object to
 * its fleet, not through the send queue: WhatsApp takes them only within its
 * windows, and a queued edit could leave after the window closed, or after
 * the client moved on believing it done. Synchronous, the client learns the
 * outcome (done, or why not) in the answer, and a number that is offline is
 * a 409 `not_connected` (with Retry-After) to retry, with nothing stored. Each carries a WhatsApp id derived
 * from what it does (wa-ids.ts), so a retry after a lost answer is the same
 * WhatsApp message.
 */
import { EditableType, type Params, type Result, STATUS_JID, type StatusPost } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { findMessage, messageEditsOf } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, RetryLater, notFound } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { publish } from "./events.ts";
import { getMessage } from "./messages.ts";
import { bodyOf, contentWithBody } from "./message-payload.ts";
import { markDeleted, recordEdit } from "./message-status.ts";
import { derivedWaMessageId } from "./wa-ids.ts";

/** How long after it was sent WhatsApp lets its sender edit a message. */
export const EDIT_WINDOW_MS = 15 * 60_000;
/** How long after it was sent WhatsApp lets its sender delete a message for everyone: 2 days and 12 hours. */
export const REVOKE_WINDOW_MS = (2 * 24 + 12) * 3_600_000;
/** What a 409 `not_connected` tells the client to wait: a dropped number is usually back within seconds. */
const RECONNECT_RETRY_S = 15;

const conflict = (code: string, message: string) => new ApiError(409, code, message);

/** Statuses of a message WhatsApp has from us. */
const ON_WHATSAPP: readonly MessageRow["status"][] = ["sent", "delivered", "read", "played"];

/** Edits our sent message's text or caption to `body`; the message as GET /messages/{id} shows it. */
export async function editMessage(env: Env, projectId: string, id: string, body: string) {
  const d1 = db(env.DB);
  const row = await ours(env, projectId, id);
  if (row.status === "deleted") throw conflict("message_deleted", "the message was deleted for everyone; there is nothing to edit");
  if (!ON_WHATSAPP.includes(row.status)) throw notSent(row, "edited");
  const type = EditableType.safeParse(row.type);
  if (row.chat_jid === STATUS_JID) throw conflict("not_editable", "WhatsApp does not let a status be edited; delete it and post another");
  if (!type.success) {
    throw conflict("not_editable", `a ${row.type} message has no text WhatsApp lets you edit; texts and the captions of images, videos and documents can be`);
  }
  const previous = bodyOf(row);
  // Already so (a retry whose answer was lost, say): nothing to send, even past the window.
  if (previous === body) return getMessage(env, projectId, id);
  if (pastWindow(row, EDIT_WINDOW_MS)) {
    throw conflict("edit_window_closed", `WhatsApp lets a message be edited for ${EDIT_WINDOW_MS / 60_000} minutes after it was sent, and that has passed`);
  }
  const edits = await messageEditsOf(d1, id);
  await act(env, row.instance_id, "message.edit", {
    chat_jid: row.chat_jid,
    wa_message_id: row.wa_message_id!,
    type: type.data,
    text: body,
    // The n-th edit to this body: the same id on a retry, another for a later edit back to it.
    edit_id: await derivedWaMessageId(`edit:${row.id}:${edits.length}:${body}`),
  });
  const edited = await recordEdit(d1, projectId, id, { content: contentWithBody(row, body)!, previous_body: previous, body, by: "api" });
  if (!edited) throw conflict("message_deleted", "the message was deleted for everyone while it was being edited");
  await publish(env, projectId, {
    type: "message.edited",
    instance_id: edited.instance_id,
    ...links(edited),
    payload: { ...refOf(edited), by: "api", previous_body: previous, body, edited_at: edited.edited_at! },
  });
  return getMessage(env, projectId, id);
}

/**
 * Deletes our message: a queued one is canceled (it never leaves), a sent one
 * is revoked for everyone on WhatsApp (every part of it) and kept here as a
 * `deleted` tombstone with its content. Deleted and canceled ones answer as
 * they are, so a retry is safe.
 */
export async function deleteMessage(env: Env, projectId: string, id: string) {
  const d1 = db(env.DB);
  let row = await ours(env, projectId, id);
  if (row.status === "queued") {
    // Its number's object holds the queue: only there can it leave the queue and turn canceled in one step.
    const outcome = await instanceOf(env, row.instance_id).cancel(row.id);
    if (outcome === "canceled") return getMessage(env, projectId, id);
    row = (await findMessage(d1, projectId, id))!;
    if (outcome === "sending" || row.status === "queued") {
      throw conflict("sending", "the message is being handed to WhatsApp right now, so it can no longer be canceled; once it is sent, DELETE it again to delete it for everyone");
    }
  }
  if (row.status === "deleted" || row.status === "canceled") return getMessage(env, projectId, id);
  if (!ON_WHATSAPP.includes(row.status)) throw notSent(row, "deleted for everyone");
  if (pastWindow(row, REVOKE_WINDOW_MS)) {
    throw conflict("delete_window_closed", "WhatsApp lets a message be deleted for everyone for 2 days and 12 hours after it was sent, and that has passed");
  }
  const sent = row;
  const parts = sent.wa_message_ids ?? [sent.wa_message_id!];
  await act(env, sent.instance_id, "message.revoke", {
    chat_jid: sent.chat_jid,
    parts: await Promise.all(parts.map(async (waId) => ({ wa_message_id: waId, revoke_id: await derivedWaMessageId(`revoke:${sent.id}:${waId}`) }))),
    ...(sent.chat_jid === STATUS_JID ? { status: sent.content.status as StatusPost } : {}),
  });
  const deleted = await markDeleted(d1, projectId, id, "api");
  if (deleted) {
    await publish(env, projectId, {
      type: "message.deleted",
      instance_id: deleted.instance_id,
      ...links(deleted),
      payload: { ...refOf(deleted), by: "api", deleted_at: deleted.updated_at },
    });
  }
  return getMessage(env, projectId, id);
}

/** The project's message, if it is one of ours (sent through Pombo or from the number's phone). */
async function ours(env: Env, projectId: string, id: string): Promise<MessageRow> {
  const row = await findMessage(db(env.DB), projectId, id);
  if (!row) throw notFound("message");
  if (row.direction !== "outbound") throw conflict("not_ours", "the message was received from the customer; only the number's own messages can be edited or deleted for everyone");
  return row;
}

function notSent(row: MessageRow, what: string): ApiError {
  const why = row.status === "failed" ? "it failed and never reached WhatsApp" : row.status === "canceled" ? "it was canceled" : "it has not been sent yet";
  return conflict("not_sent", `the message cannot be ${what}: ${why}`);
}

const pastWindow = (row: MessageRow, windowMs: number) => Date.now() - Date.parse(row.sent_at ?? row.created_at) > windowMs;

/** The envelope fields every message event carries. */
const links = (row: MessageRow) => ({ contact_id: row.contact_id, conversation_id: row.conversation_id, reference: row.reference });

const refOf = (row: MessageRow) => ({ message_id: row.id, wa_message_id: row.wa_message_id, chat_jid: row.chat_jid, direction: row.direction });

/** An edit or a revoke through the number's fleet, now; its failures in the API's terms. */
async function act<M extends "message.edit" | "message.revoke">(env: Env, instanceId: string, method: M, params: Params<M>): Promise<Result<M>> {
  const outcome = await instanceOf(env, instanceId).act(method, params);
  if (outcome.ok) return outcome.result as Result<M>;
  switch (outcome.code) {
    case "not_connected":
    case "fleet_unavailable":
      throw new RetryLater(409, "not_connected", RECONNECT_RETRY_S, "the number is not connected to WhatsApp right now; nothing was done, try again once it is", {
        instance_id: instanceId,
      });
    case "server_error":
      throw new ApiError(422, "whatsapp_refused", `WhatsApp refused it (error ${outcome.message})`);
    case "send_failed":
    case "timeout":
    case "closed":
      throw new ApiError(504, "timeout", "WhatsApp did not confirm it in time; try again (a retry is the same WhatsApp message, never a second one)");
    default:
      throw new ApiError(502, "fleet_error", `the fleet process failed: ${outcome.message}`);
  }
}

/**
 * Edits and deletes for everyone that WhatsApp reports to a number: the
 * customer edits or deletes their message, or the number's own phone app
 * edits or deletes one of ours (`from_me`). Each arrives as an envelope with
 * its own WhatsApp id (fleet/inbound-translate.ts: an `edit` or a `revoke`
 * naming `target_id`) on the received messages' path, so it is kept once by
 * that id as they are (services/inbound.ts).
 *
 * The target is looked for among this number's messages, in the envelope's
 * chat (its phone JID or LID, either Brazilian form): a customer changes
 * only what they sent (in a group, an admin may delete anyone's, but only
 * its author edits), the phone only what the number sent. A target we do not
 * have (never stored, or an edit that overtook its message) changes nothing;
 * the envelope is still taken, so the fleet lets go of it.
 *
 * Once: an edit is recorded with the envelope's id (message_edits.wa_message_id),
 * a delete is a status a message reaches once. A repeat announces what the
 * first did again, with the same event id (made from the message and the
 * edit: services/events.ts), so the hub refuses it unless the first attempt
 * died before its event went out (services/inbound.ts says why that is enough).
 */
import type { InboundMessage } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { findByWaId, findEditByWaId } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { MessageActor } from "../enums.ts";
import type { Env } from "../env.ts";
import { type NewEvent, publish } from "./events.ts";
import { canonicalJid, contactFor, identify } from "./identity.ts";
import type { Received, Scope } from "./inbound.ts";
import { bareJid, isGroup } from "./jids.ts";
import { removeReceivedMedia } from "./media-store.ts";
import { type ReceivedContent, bodyOf, contentWithBody, tombstone, waIdOf } from "./message-payload.ts";
import { markDeleted, recordEdit } from "./message-status.ts";

/** What an envelope did, and the event that says so; `fresh` is false when an earlier attempt did it. */
type Applied = { fresh: boolean; event: NewEvent };

export async function receiveChange(env: Env, scope: Scope, msg: InboundMessage): Promise<Received> {
  const target = await targetOf(env, scope, msg);
  if (!target) {
    console.warn(
      `instance ${scope.instance_id}: ${msg.type} ${msg.wa_message_id} names message ${msg.target_id ?? "(none)"}, which this chat does not have: nothing changed`,
    );
    return { message_id: null, duplicate: false };
  }
  const applied = msg.type === "edit" ? await edit(env, scope, msg, target) : await revoke(env, scope, msg, target);
  // A repeat too: if the first's event went out, the hub refuses this one by its id.
  if (applied) await publish(env, scope.project_id, applied.event);
  return { message_id: target.id, duplicate: !applied?.fresh };
}

const actorOf = (msg: InboundMessage): MessageActor => (msg.from_me ? "phone" : "customer");

async function edit(env: Env, scope: Scope, msg: InboundMessage, target: MessageRow): Promise<Applied | null> {
  const d1 = db(env.DB);
  const by = actorOf(msg);
  const earlier = await findEditByWaId(d1, target.id, msg.wa_message_id);
  if (earlier) return { fresh: false, event: editedEvent(scope, target, earlier) };
  const body = msg.body ?? "";
  const previous = bodyOf(target);
  const content = contentWithBody(target, body);
  // Our own edits through the API come back from WhatsApp too: an edit that changes nothing is none.
  if (!content || previous === body) return null;
  const edited = await recordEdit(d1, scope.project_id, target.id, { content, previous_body: previous, body, by, wa_message_id: msg.wa_message_id });
  if (!edited) return null;
  return { fresh: true, event: editedEvent(scope, edited, { previous_body: previous, body, by, at: edited.edited_at! }) };
}

async function revoke(env: Env, scope: Scope, msg: InboundMessage, target: MessageRow): Promise<Applied | null> {
  const by = actorOf(msg);
  if (target.status === "deleted") {
    return target.reason === `deleted_by_${by}` ? { fresh: false, event: deletedEvent(scope, target, by) } : null;
  }
  const customer = by === "customer";
  // The customer's file is theirs to take back; it goes first, so a retry after a failure still finds it.
  if (customer && target.media_id) await removeReceivedMedia(env, scope.project_id, target.media_id);
  const scrub = customer ? { content: tombstone(target.content as ReceivedContent) as Record<string, unknown> } : undefined;
  const deleted = await markDeleted(db(env.DB), scope.project_id, target.id, by, scrub);
  return deleted ? { fresh: true, event: deletedEvent(scope, deleted, by) } : null;
}

/**
 * The message the envelope names, if this number has it in the envelope's
 * chat and the envelope's author may change it.
 */
async function targetOf(env: Env, scope: Scope, msg: InboundMessage): Promise<MessageRow | undefined> {
  if (!msg.target_id) return undefined;
  const direction = msg.from_me ? "outbound" : "inbound";
  const row = await findByWaId(db(env.DB), scope.project_id, scope.instance_id, msg.target_id, direction);
  if (!row) return undefined;
  return (await sameChat(env, scope, msg, row)) ? row : undefined;
}

async function sameChat(env: Env, scope: Scope, msg: InboundMessage, row: MessageRow): Promise<boolean> {
  const chat = bareJid(msg.chat_jid);
  if (isGroup(chat)) {
    if (row.chat_jid !== chat) return false;
    if (msg.from_me || msg.type === "revoke") return true;
    const who = await identify(env, scope.project_id, scope.instance_id, [msg.sender_jid, msg.sender_jid_alt]);
    return [who.pn, who.lid, bareJid(msg.sender_jid)].includes(row.sender_jid);
  }
  const jids = [msg.chat_jid, msg.chat_jid_alt, ...(msg.from_me ? [] : [msg.sender_jid, msg.sender_jid_alt])];
  const who = await identify(env, scope.project_id, scope.instance_id, jids);
  const chats = [canonicalJid(who, chat), chat, ...(msg.chat_jid_alt ? [bareJid(msg.chat_jid_alt)] : [])];
  if (chats.includes(row.chat_jid)) return true;
  // The other Brazilian form, or a LID since merged: the same person's contact.
  const contact = await contactFor(env, scope.project_id, scope.instance_id, who);
  return contact !== null && row.contact_id === contact.id;
}

const refOf = (row: MessageRow) => ({ message_id: row.id, wa_message_id: waIdOf(row), chat_jid: row.chat_jid, direction: row.direction });
const idsOf = (row: MessageRow) => ({ contact_id: row.contact_id, conversation_id: row.conversation_id, reference: row.reference });

function editedEvent(
  scope: Scope,
  row: MessageRow,
  edit: { previous_body: string | null; body: string; by: MessageActor; at: string },
): NewEvent {
  return {
    type: "message.edited",
    instance_id: scope.instance_id,
    ...idsOf(row),
    payload: { ...refOf(row), by: edit.by, previous_body: edit.previous_body, body: edit.body, edited_at: edit.at },
  };
}

function deletedEvent(scope: Scope, row: MessageRow, by: MessageActor): NewEvent {
  return {
    type: "message.deleted",
    instance_id: scope.instance_id,
    ...idsOf(row),
    payload: { ...refOf(row), by, deleted_at: row.updated_at },
  };
}

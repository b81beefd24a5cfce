/**
 * A message we sent, once WhatsApp took it: it joins its customer's
 * conversation (created if this is the first word), which now shows it as
 * the last message and has nothing unread, and its contact counts one more
 * message. The counterpart of inbound.ts for what the numbers send.
 *
 * A message to a phone chat is filed in the move to `sent`'s own batch
 * (`fileInMove`): its contact and conversation are found there by
 * subqueries, or created if this is the first word, so the move and its
 * filing are one D1 round trip. What that cannot settle (a LID chat, a
 * phone entered by hand that WhatsApp now confirms, two contacts for the
 * two forms of a Brazilian number) is filed by `recordSent` after the move,
 * before the send journal (objects/sender.ts) announces it.
 */
import { type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { phoneFromJid } from "../../shared/jid.ts";
import { STATUS_JID } from "../../shared/protocol.ts";
import { type Db, db } from "../db/client.ts";
import { confirmedContactId } from "../db/contacts.ts";
import { conversationIdOf } from "../db/conversations.ts";
import { messageExists } from "../db/messages.ts";
import type { ContactRow, MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { newId } from "../crypto.ts";
import { addContactIfNew, touchContact } from "./contact-store.ts";
import { conversationFor, startConversationIfNew, touchConversation } from "./conversations.ts";
import { contactFor, identify } from "./identity.ts";
import { bareJid, isGroup, isPhoneJid } from "./jids.ts";
import { joinConversation, joinFoundConversation } from "./message-status.ts";
import { phoneVariants } from "./phone.ts";

export type Link = { contact_id: string; conversation_id: string; contact: ContactRow };

/** Files the message under its contact and conversation; null for a group chat or a status post, which have no conversation here. */
export async function recordSent(env: Env, projectId: string, row: MessageRow): Promise<Link | null> {
  if (isGroup(row.chat_jid) || row.chat_jid === STATUS_JID) return null;
  const who = await identify(env, projectId, row.instance_id, [row.chat_jid]);
  const contact = await contactFor(env, projectId, row.instance_id, who, { source: "outbound", name: null });
  if (!contact) return null;
  const conversation = await conversationFor(env, projectId, contact, row.instance_id);
  // Our clock, as for received messages (WhatsApp's is in whole seconds): a reply is never older than what it answers.
  const at = new Date().toISOString();
  const d1 = db(env.DB);
  await d1.batch([
    joinConversation(d1, projectId, row.id, { contact_id: contact.id, conversation_id: conversation.id }),
    touchContact(d1, projectId, contact.id, { at, instance_id: row.instance_id }),
    touchConversation(d1, projectId, conversation.id, { message_id: row.id, at, instance_id: row.instance_id, inbound: false }),
  ]);
  return { contact_id: contact.id, conversation_id: conversation.id, contact };
}

/**
 * The filing of a message to a phone chat, for the move to `sent`'s batch
 * (markSent's `also`), every statement only if the batch moved the message:
 * the person's contact and conversation are created if nobody holds the
 * phone yet; then, if exactly one contact holds it (phone confirmed) and it
 * has its conversation, the message joins it and both are touched, the
 * three together or not at all. Null: not a phone chat.
 * `filed(results)` reads the batch's answer: the link and the contact when
 * they landed; null means recordSent must file it.
 */
export function fileInMove(d1: Db, projectId: string, send: { message_id: string; chat_jid: string; instance_id: string }) {
  const phone = isPhoneJid(send.chat_jid) ? phoneFromJid(bareJid(send.chat_jid)) : null;
  if (!phone) return null;
  const phones = phoneVariants(phone);
  const contactId = confirmedContactId(projectId, phones);
  const conversationId = conversationIdOf(projectId, contactId);
  const at = new Date().toISOString();
  const writes = (moved: SQL): BatchItem<"sqlite">[] => {
    const linked = messageExists(moved);
    return [
      // The first message to this person: their contact and conversation, as contactFor and conversationFor would create them.
      addContactIfNew(
        d1,
        { id: newId(), project_id: projectId, phone, jid: bareJid(send.chat_jid), lid: null, name: null, instance_id: send.instance_id, source: "outbound" },
        phones,
        linked,
      ),
      startConversationIfNew(d1, { id: newId(), project_id: projectId, instance_id: send.instance_id }, contactId, linked),
      joinFoundConversation(d1, projectId, moved, { contact_id: contactId, conversation_id: conversationId }),
      touchContact(d1, projectId, contactId, { at, instance_id: send.instance_id, onlyIf: sql`${linked} AND ${conversationId} IS NOT NULL` }).returning(),
      touchConversation(d1, projectId, conversationId, { message_id: send.message_id, at, instance_id: send.instance_id, inbound: false, onlyIf: linked }),
    ];
  };
  const filed = (results: unknown[]): Link | null => {
    const [, , [link], [contact]] = results as [unknown, unknown, { contact_id: string; conversation_id: string }[], ContactRow[]];
    return link && contact ? { contact_id: link.contact_id, conversation_id: link.conversation_id, contact } : null;
  };
  return { writes, filed };
}

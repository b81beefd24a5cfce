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
import { phoneFromJid } from "../../shared/jid.ts";
import { STATUS_JID } from "../../shared/protocol.ts";
import { type Db, db } from "../db/client.ts";
import { confirmedContactIdSql } from "../db/contacts.ts";
import { conversationIdOfSql } from "../db/conversations.ts";
import { movedSql } from "../db/message-writes.ts";
import { type ContactRow, type MessageRow, contacts } from "../db/schema/index.ts";
import { readerOf, written } from "../db/written.ts";
import type { Env } from "../env.ts";
import { newId } from "../crypto.ts";
import { addContactIfNewSql, touchContact, touchContactSql } from "./contact-store.ts";
import { conversationFor, startConversationIfNewSql, touchConversation, touchConversationSql } from "./conversations.ts";
import { contactFor, identify } from "./identity.ts";
import { bareJid, isGroup, isPhoneJid } from "./jids.ts";
import { joinConversation, joinFoundConversationSql } from "./message-status.ts";
import { phoneVariants } from "./phone.ts";

/** Where a sent message was filed, and its contact as far as the sender reads it (who it is, whether its picture is due). */
export type Link = { contact_id: string; conversation_id: string; contact: Pick<ContactRow, (typeof LINKED_CONTACT)[number]> };

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
 * The filing's statements, written once (db/written.ts). Their values, by
 * role: ?1 project, ?2 the phone's forms (JSON), ?3 the message, ?4 the
 * move's time, ?5 the number, ?6 a new contact's id, ?7 its phone, ?8 its
 * JID, ?9 a new conversation's id.
 */
const CONTACT = confirmedContactIdSql("?1", "?2");
const CONVERSATION = conversationIdOfSql("?1", CONTACT);
const SENT = { id: "?3", status: "'sent'", at: "?4" };
const MOVED = movedSql(SENT);
/** What the sender reads of the contact: who it is, and whether its picture is due (contact-avatars.ts). */
const LINKED_CONTACT = ["id", "phone", "jid", "lid", "source", "message_count", "avatar_checked_at"] as const;
const FILING = [
  // The first message to this person: their contact and conversation, as contactFor and conversationFor would create them.
  addContactIfNewSql({ id: "?6", project_id: "?1", phone: "?7", jid: "?8", instance_id: "?5", source: "'outbound'", phones: "?2", onlyIf: MOVED }),
  startConversationIfNewSql({ id: "?9", project_id: "?1", instance_id: "?5", contact_id: CONTACT, onlyIf: MOVED }),
  joinFoundConversationSql({ project_id: "?1", ...SENT, contact_id: CONTACT, conversation_id: CONVERSATION }),
  touchContactSql({ project_id: "?1", id: CONTACT, at: "?4", instance_id: "?5", onlyIf: `${MOVED} AND ${CONVERSATION} IS NOT NULL` }, LINKED_CONTACT),
  touchConversationSql({ project_id: "?1", id: CONVERSATION, message_id: "?3", at: "?4", instance_id: "?5", onlyIf: MOVED }),
].map(written);
const readContact = readerOf(contacts);

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
  const phones = JSON.stringify(phoneVariants(phone));
  const writes = (at: string): D1PreparedStatement[] => {
    const values = [projectId, phones, send.message_id, at, send.instance_id, newId(), phone, bareJid(send.chat_jid), newId()];
    return FILING.map((write) => write(d1.$client, values));
  };
  const filed = (results: D1Result[]): Link | null => {
    const link = results[2]?.results[0] as { contact_id: string; conversation_id: string } | undefined;
    const contact = results[3]?.results[0] as Record<string, unknown> | undefined;
    return link && contact ? { contact_id: link.contact_id, conversation_id: link.conversation_id, contact: readContact(contact) } : null;
  };
  return { writes, filed };
}

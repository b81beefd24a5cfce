/**
 * A customer's message stored and filed in one D1 round trip: the receiving
 * counterpart of sent-messages.ts's `fileInMove`.
 *
 * A plain message (one-to-one, from the customer, who is named by phone JID,
 * with a LID alongside or none) needs no identity work: its
 * contact is the one contact holding the phone (either Brazilian form) as
 * WhatsApp confirmed it, and the LID if one came, which the LID map already
 * pairs with the phone; its conversation is that contact's. So one batch
 * finds them by subqueries as it writes: the contact and conversation are
 * created if nobody holds the phone yet (a first message without a LID),
 * the message is inserted
 * only if the conversation is found (a repeat of a message this number
 * stored inserts nothing: the unique inbound index), and the contact, the
 * conversation and the chat's number are touched only if the message was
 * (the link is read from the row just stored).
 *
 * What SQL cannot settle stores nothing here, and inbound.ts's general path
 * (identity.ts) takes the message as before: a LID alone (its phone is in
 * the LID map), a pair the map does not hold or contacts it has not joined
 * yet (learned, merged), the first message of a pair, a phone entered by hand that WhatsApp now confirms, two contacts for the two
 * forms of a Brazilian number, a chat whose conversation another contact
 * holds. Nothing is inserted before that path runs, so it inserts the one row.
 */
import { phoneFromJid } from "../../shared/jid.ts";
import type { InboundMessage } from "../../shared/protocol.ts";
import { settledContactIdSql } from "../db/contacts.ts";
import { conversationOfContactFromSql } from "../db/conversations.ts";
import { pairKnownSql } from "../db/lid-map.ts";
import { receivedBeforeSql, storedColumnSql } from "../db/messages.ts";
import { type ContactRow, type ConversationRow, type MessageRow, contacts, conversations, messages } from "../db/schema/index.ts";
import { driverValue, readerOf, written } from "../db/written.ts";
import { newId } from "../crypto.ts";
import { wroteToSql } from "./chat-numbers.ts";
import { addContactIfNewSql, touchContactByReceivedSql } from "./contact-store.ts";
import { startConversationIfNewSql, touchConversationByReceivedSql } from "./conversations.ts";
import { bareJid, isGroup, isLid, isPhoneJid } from "./jids.ts";
import { storeReceivedFiledSql } from "./message-status.ts";
import { phoneVariants } from "./phone.ts";

/**
 * Who the customer is when the message is plain (see above), as identity.ts
 * reads its JIDs, else null: ours, a group's, no phone among its JIDs.
 */
export function plainCustomer(msg: InboundMessage): { pn: string; lid: string | null } | null {
  if (msg.from_me || isGroup(bareJid(msg.chat_jid))) return null;
  const jids = [msg.chat_jid, msg.chat_jid_alt, msg.sender_jid, msg.sender_jid_alt].filter((j): j is string => !!j).map(bareJid);
  const pn = jids.find(isPhoneJid);
  return pn && phoneFromJid(pn) ? { pn, lid: jids.find(isLid) ?? null } : null;
}

/**
 * The statements, written once (db/written.ts). Their values, by role: ?1
 * project, ?2 the number, ?3 the message, ?4 the phone's forms (JSON), ?5
 * its WhatsApp id, ?6 its type, ?7 its content (JSON), ?8 when it was
 * stored, ?9 the file, ?10 the push name, ?11 when the customer wrote it
 * (WhatsApp's time), ?12 a new contact's id, ?13 its phone, ?14 its JID
 * (the customer's phone JID), ?15 a new conversation's id, ?16 the LID (or
 * NULL), ?17 the WhatsApp id of the message it quotes.
 */
const CONTACT = settledContactIdSql("?1", "?4", "?16", pairKnownSql("?1", "?16", "?14"));
const STORED = storedColumnSql("?3", "chat_jid");
const [INSERT, HISTORY] = storeReceivedFiledSql({
  id: "?3",
  project_id: "?1",
  instance_id: "?2",
  type: "?6",
  content: "?7",
  wa_message_id: "?5",
  quoted_id: "?17",
  media_id: "?9",
  at: "?8",
  chat_jid: "conversations.chat_jid",
  contact_id: "conversations.contact_id",
  conversation_id: "conversations.id",
  from: conversationOfContactFromSql("?1", CONTACT),
});
const FILING = [
  // A first message: the contact and conversation, as identity.ts would create them for a phone JID.
  addContactIfNewSql({ id: "?12", project_id: "?1", phone: "?13", jid: "?14", name: "?10", instance_id: "?2", source: "'inbound'", phones: "?4", onlyIf: "?16 IS NULL" }),
  startConversationIfNewSql({ id: "?15", project_id: "?1", instance_id: "?2", contact_id: CONTACT, onlyIf: "1" }),
  INSERT,
  HISTORY,
  touchContactByReceivedSql(
    { project_id: "?1", id: storedColumnSql("?3", "contact_id"), at: "?8", instance_id: "?2", name: "?10", updated_at: "?8", onlyIf: "1" },
    "*",
  ),
  touchConversationByReceivedSql(
    { project_id: "?1", id: storedColumnSql("?3", "conversation_id"), message_id: "?3", at: "?8", instance_id: "?2", inbound: "?11", updated_at: "?8", onlyIf: "1" },
    "*",
  ),
  // The number the customer wrote to is the one that answers them (reference 000).
  wroteToSql({ project_id: "?1", chat_jid: STORED, instance_id: "?2", at: "?8", onlyIf: `${STORED} IS NOT NULL` }),
].map(written);
const BEFORE = written(receivedBeforeSql({ project_id: "?1", instance_id: "?2", wa_message_id: "?5", id: "?3" }));
const [STORED_AT, CONTACT_AT, CONVERSATION_AT] = [2, 4, 5];

const readMessage = readerOf(messages);
const readContact = readerOf(contacts);
const readConversation = readerOf(conversations);

/** What the batch did: stored the message (`fresh`, with its contact and conversation as touched), or found this number's first copy of it. */
export type Filed = { message: MessageRow; fresh: true; contact: ContactRow; conversation: ConversationRow } | { message: MessageRow; fresh: false };

/**
 * Stores `row` (a plain message from the customer `who`, its link left
 * empty) filed under their contact and conversation, with `also` (the
 * statements of the same moment: its count, its file's) in the batch.
 * Null: not stored, and no copy of it either; the general path files it.
 */
export async function storeFiled(
  d1: D1Database,
  row: MessageRow,
  filing: { who: { pn: string; lid: string | null }; push_name: string | null; inbound: string },
  also: D1PreparedStatement[],
): Promise<Filed | null> {
  const { pn, lid } = filing.who;
  const phone = phoneFromJid(pn)!;
  const values = [
    row.project_id,
    row.instance_id,
    row.id,
    JSON.stringify(phoneVariants(phone)),
    row.wa_message_id,
    row.type,
    driverValue(messages, "content", row.content),
    row.created_at,
    row.media_id,
    filing.push_name || null,
    filing.inbound,
    newId(),
    phone,
    pn,
    newId(),
    lid,
    row.quoted_id,
  ];
  const results = await d1.batch<Record<string, unknown>>([...FILING.map((write) => write(d1, values)), ...also, BEFORE(d1, values)]);
  const link = results[STORED_AT]!.results[0] as Pick<MessageRow, "chat_jid" | "contact_id" | "conversation_id" | "sender_jid"> | undefined;
  const contact = results[CONTACT_AT]!.results[0];
  const conversation = results[CONVERSATION_AT]!.results[0];
  if (link && contact && conversation) {
    return { message: { ...row, ...link }, fresh: true, contact: readContact(contact), conversation: readConversation(conversation) };
  }
  if (link) throw new Error(`message ${row.id} was stored without its contact and conversation`);
  const first = results.at(-1)!.results[0];
  return first ? { message: readMessage(first), fresh: false } : null;
}

/**
 * A message we sent, once WhatsApp took it: it joins its customer's
 * conversation (created if this is the first word), which now shows it as
 * the last message and has nothing unread, and its contact counts one more
 * message. The counterpart of inbound.ts for what the numbers send; the
 * send journal (objects/sender.ts) calls it before announcing the message.
 */
import { STATUS_JID } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import type { ContactRow, MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { touchContact } from "./contact-store.ts";
import { conversationFor, touchConversation } from "./conversations.ts";
import { contactFor, identify } from "./identity.ts";
import { isGroup } from "./jids.ts";
import { joinConversation } from "./message-status.ts";

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

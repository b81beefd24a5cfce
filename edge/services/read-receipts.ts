/**
 * Reading received messages: a client's `POST /conversations/{jid}/read`
 * and `POST /messages/{id}/read`. Each message read gets a WhatsApp read
 * receipt ("blue ticks") through the number that received it, once: the
 * receipt is queued on that number's object (objects/read-receipts.ts),
 * which keeps it until WhatsApp has it, and only then is the message
 * stamped `read_at`, so a message is never stamped without its receipt
 * (a failure in between queues it again next time, which WhatsApp takes
 * as the same receipt). `auto_read` (inbound.ts) does the same as messages
 * arrive.
 */
import type { ReadReceiptKey } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { type UnreadMessage, findMessage, unreadInConversation } from "../db/messages.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { findConversationByJid, markConversationRead } from "./conversations.ts";
import { isGroup } from "./jids.ts";
import { markReadByNumber } from "./message-status.ts";

/** Most receipts one read of a conversation sends (its newest unread); another read takes the older rest. */
export const MAX_RECEIPTS_PER_READ = 1_000;

/** The conversation is read: nothing in it is unread, and its unread received messages get their receipts. */
export async function readConversation(env: Env, projectId: string, jid: string) {
  const d1 = db(env.DB);
  const conversation = await findConversationByJid(env, projectId, jid);
  const unread = await unreadInConversation(d1, projectId, conversation.id, MAX_RECEIPTS_PER_READ);
  const queued = await queueReceipts(env, projectId, unread);
  await markConversationRead(d1, projectId, conversation.id);
  return { id: conversation.id, chat_jid: conversation.chat_jid, unread_count: 0 as const, receipts_queued: queued };
}

/** One received message is read. Ours answer 409 `not_inbound`; one read before gets no second receipt. */
export async function readMessage(env: Env, projectId: string, id: string) {
  const message = await findMessage(db(env.DB), projectId, id);
  if (!message) throw notFound("message");
  if (message.direction !== "inbound") {
    throw new ApiError(409, "not_inbound", "only a received message can be read: this one was sent by the number", { field: "id" });
  }
  const unread = message.read_at === null && message.status === "received";
  const queued = unread ? await queueReceipts(env, projectId, [message]) : 0;
  return { id: message.id, receipts_queued: queued };
}

/** Queues each message's receipt on the number that received it, then stamps the queued ones read; how many were queued. */
async function queueReceipts(env: Env, projectId: string, messages: UnreadMessage[]): Promise<number> {
  const byNumber = new Map<string, UnreadMessage[]>();
  for (const m of messages) if (m.wa_message_id) byNumber.set(m.instance_id, [...(byNumber.get(m.instance_id) ?? []), m]);
  const queued: string[] = [];
  for (const [instanceId, ofNumber] of byNumber) {
    // False: the number is gone (deleted); its messages cannot be receipted any more.
    if (await instanceOf(env, instanceId).queueReadReceipts(ofNumber.map(receiptKey))) queued.push(...ofNumber.map((m) => m.id));
  }
  await markReadByNumber(db(env.DB), projectId, queued);
  return queued.length;
}

/** In a group the receipt names who wrote the message. */
const receiptKey = (m: UnreadMessage): ReadReceiptKey => ({
  chat_jid: m.chat_jid,
  wa_message_id: m.wa_message_id!,
  participant: isGroup(m.chat_jid) ? m.sender_jid : null,
});

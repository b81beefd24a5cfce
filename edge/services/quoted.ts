/**
 * Replies and reactions: the message they point at. A client names it by
 * our id or its WhatsApp id; it must be a message of the same chat that
 * WhatsApp has (not one still queued), and the reply goes out through the
 * number that has it, since a chat is one number's with the customer.
 */
import type { QuotedMessage } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { findInChat } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { isGroup } from "./jids.ts";
import { bodyOf, waIdOf } from "./message-payload.ts";

/** A quoted message: our id, its WhatsApp id, the number that has it, and what the fleet needs to quote it. */
export type Quoted = { message_id: string; wa_message_id: string; instance_id: string; quoted: QuotedMessage };

const notFound = (why: string) =>
  new ApiError(422, "quoted_message_not_found", `quoted_message_id: ${why}`, { field: "quoted_message_id" });

/**
 * The message `ref` names in the chat `chatJid`, for a send through
 * `instanceId` (when the client chose one); 422 `quoted_message_not_found`
 * for an unknown id, another project's or another chat's message, one that
 * never reached WhatsApp, or one another number has.
 */
export async function quotedMessage(env: Env, projectId: string, ref: string, chatJid: string, instanceId?: string): Promise<Quoted> {
  const row = await findInChat(db(env.DB), projectId, [chatJid], ref);
  const waId = row ? waIdOf(row) : null;
  if (!row || !waId) throw notFound("no message with this id in this chat");
  if (instanceId && instanceId !== row.instance_id) throw notFound("the message is in another number's chat with this contact");
  return {
    message_id: row.id,
    wa_message_id: waId,
    instance_id: row.instance_id,
    quoted: {
      id: waId,
      from_me: row.direction === "outbound",
      // In a group, the quote names its author.
      participant: isGroup(row.chat_jid) && row.direction === "inbound" ? row.sender_jid : null,
      type: row.type,
      body: bodyOf(row),
    },
  };
}

/** Our id of the message a received one quotes (a WhatsApp id) in its chat (under any of `chatJids`), when we have it. */
export async function quotedMessageId(env: Env, projectId: string, chatJids: string[], waId: string | null): Promise<string | null> {
  if (!waId) return null;
  const row: MessageRow | undefined = await findInChat(db(env.DB), projectId, chatJids, waId);
  return row?.id ?? null;
}

/**
 * Reads of `messages`, `message_statuses` and `message_edits`: one message
 * (by id, Idempotency-Key, WhatsApp id, or within a chat), its history and
 * edits, and the conditions and subqueries other tables' statements read a
 * message through. Every query names the project. Only reads: these tables
 * are written through message-writes.ts; lists of messages: message-lists.ts.
 */
import { and, asc, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { prepared } from "./reads.ts";
import { inList } from "./lists.ts";
import { type MessageRow, messageEdits, messageStatuses, messages } from "./schema/index.ts";

export async function findMessage(db: Db, projectId: string, id: string): Promise<MessageRow | undefined> {
  return first(db.select().from(messages).where(ofProject(messages, projectId, id)).limit(1));
}

export async function findByIdempotencyKey(db: Db, projectId: string, key: string) {
  return first(idempotencyKeyQuery(db, projectId, key));
}

const idempotencyKeyQuery = (db: Db, projectId: string, key: string) =>
  db.select().from(messages).where(and(eq(messages.project_id, projectId), eq(messages.idempotency_key, key))).limit(1);

/** What an Idempotency-Key's retry needs of the message the key made: to judge the key, and to answer as the first time. */
export type KeyedSend = Pick<MessageRow, "id" | "instance_id" | "chat_jid" | "reference" | "status" | "reason" | "idempotency_fingerprint" | "created_at">;

const keyedRead = prepared<KeyedSend, { project_id: string; key: string }>(
  new QueryBuilder()
    .select({
      id: messages.id,
      instance_id: messages.instance_id,
      chat_jid: messages.chat_jid,
      reference: messages.reference,
      status: messages.status,
      reason: messages.reason,
      idempotency_fingerprint: messages.idempotency_fingerprint,
      created_at: messages.created_at,
    })
    .from(messages)
    .where(and(eq(messages.project_id, sql.placeholder("project_id")), eq(messages.idempotency_key, sql.placeholder("key"))))
    .limit(1),
);

/** `findByIdempotencyKey` as a read for a batch (db/reads.ts): zero or one row. */
export const keyedSendRead = (d1: D1Database, projectId: string, key: string) => keyedRead(d1, { project_id: projectId, key });

/**
 * A message of this number by WhatsApp id: one it sent (through us or from
 * its phone app), which receipts are about, or one it received.
 */
export async function findByWaId(
  db: Db,
  projectId: string,
  instanceId: string,
  waMessageId: string,
  direction: MessageRow["direction"] = "outbound",
) {
  const [row] = await db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.project_id, projectId),
        eq(messages.instance_id, instanceId),
        eq(messages.wa_message_id, waMessageId),
        eq(messages.direction, direction),
      ),
    )
    .limit(1);
  return row;
}

/**
 * A message of one chat by our id or its WhatsApp id (what a reply or a
 * reaction names), through the project's id and WhatsApp-id indexes.
 */
export async function findInChat(db: Db, projectId: string, chatJids: string[], ref: string): Promise<MessageRow | undefined> {
  return first(
    db
      .select()
      .from(messages)
      .where(and(eq(messages.project_id, projectId), inList(messages.chat_jid, chatJids), or(eq(messages.id, ref), eq(messages.wa_message_id, ref))))
      .limit(1),
  );
}

export async function statusHistory(db: Db, messageId: string) {
  return db
    .select({ status: messageStatuses.status, reason: messageStatuses.reason, at: messageStatuses.at })
    .from(messageStatuses)
    .where(eq(messageStatuses.message_id, messageId))
    .orderBy(asc(messageStatuses.id));
}

/** The edit of a message that WhatsApp reported under this id, if it was applied. */
export async function findEditByWaId(db: Db, messageId: string, waMessageId: string) {
  return first(
    db
      .select({ previous_body: messageEdits.previous_body, body: messageEdits.body, by: messageEdits.by, at: messageEdits.at })
      .from(messageEdits)
      .where(and(eq(messageEdits.message_id, messageId), eq(messageEdits.wa_message_id, waMessageId)))
      .limit(1),
  );
}

/** A message's edits, oldest first. */
export async function messageEditsOf(db: Db, messageId: string) {
  return db
    .select({ previous_body: messageEdits.previous_body, body: messageEdits.body, by: messageEdits.by, at: messageEdits.at })
    .from(messageEdits)
    .where(eq(messageEdits.message_id, messageId))
    .orderBy(asc(messageEdits.id));
}

// ------------------------------------------------------------ the receive path


/** The text of `stored`, for a hand-written statement whose parameter `?n` is the message's id. */
export const storedText = (n: number) => `EXISTS (SELECT 1 FROM messages WHERE id = ?${n})`;

/** As a subquery: a column of the message `id` names, NULL until it is stored. Each argument an SQL expression. */
export const storedColumnSql = (id: string, column: "chat_jid" | "contact_id" | "conversation_id") =>
  `(SELECT messages.${column} FROM messages WHERE messages.id = ${id})`;

/**
 * The message this number received under this WhatsApp id, unless it is
 * `id` (the one this batch stored): a repeat's first copy. SQL text for a
 * statement written once; each argument an SQL expression.
 */
export const receivedBeforeSql = (p: { project_id: string; instance_id: string; wa_message_id: string; id: string }) =>
  `SELECT * FROM messages WHERE messages.project_id = ${p.project_id} AND messages.instance_id = ${p.instance_id}
   AND messages.wa_message_id = ${p.wa_message_id} AND messages.direction = 'inbound' AND messages.id <> ${p.id}`;

/**
 * Our message with this WhatsApp id, whichever part of it (an OTP is two
 * WhatsApp messages; only the last id is indexed, so earlier parts are
 * looked for within the chat).
 */
export async function findOutboundByWaId(db: Db, projectId: string, waMessageId: string, chatJids: string[]) {
  const outbound = and(eq(messages.project_id, projectId), eq(messages.direction, "outbound"));
  const [[last], [part]] = await db.batch([
    db.select().from(messages).where(and(outbound, eq(messages.wa_message_id, waMessageId))).limit(1),
    db
      .select()
      .from(messages)
      .where(
        and(
          outbound,
          inList(messages.chat_jid, chatJids),
          sql`EXISTS (SELECT 1 FROM json_each(${messages.wa_message_ids}) WHERE value = ${waMessageId})`,
        ),
      )
      .limit(1),
  ]);
  return last ?? part;
}

/**
 * The numbers that lately received a message in a chat, or got one of theirs
 * into it, newest first: for a WhatsApp group, numbers that are (or lately
 * were) in it. Reads the chat's newest rows only, through its index.
 */
export async function recentNumbersInChat(db: Db, projectId: string, chatJid: string, limit = 50): Promise<string[]> {
  const rows = await db
    .select({ instance_id: messages.instance_id })
    .from(messages)
    .where(
      and(
        eq(messages.project_id, projectId),
        eq(messages.chat_jid, chatJid),
        or(eq(messages.direction, "inbound"), inArray(messages.status, ["sent", "delivered", "read", "played"])),
      ),
    )
    .orderBy(desc(messages.created_at))
    .limit(limit);
  return [...new Set(rows.map((r) => r.instance_id))];
}

/** A poll (ours or received) by its WhatsApp id, to name the options of a vote. */
export async function findPoll(db: Db, projectId: string, waMessageId: string) {
  const [row] = await db
    .select({ content: messages.content })
    .from(messages)
    .where(and(eq(messages.project_id, projectId), eq(messages.wa_message_id, waMessageId), eq(messages.type, "poll")))
    .limit(1);
  return row;
}

// ------------------------------------------------------------ read receipts

/** A received message as its read receipt names it. */
export type UnreadMessage = Pick<MessageRow, "id" | "instance_id" | "chat_jid" | "wa_message_id" | "sender_jid">;

const unreadColumns = {
  id: messages.id,
  instance_id: messages.instance_id,
  chat_jid: messages.chat_jid,
  wa_message_id: messages.wa_message_id,
  sender_jid: messages.sender_jid,
};

/** A conversation's received messages the number has not read yet, newest first (messages_unread). */
export async function unreadInConversation(db: Db, projectId: string, conversationId: string, limit: number): Promise<UnreadMessage[]> {
  return db
    .select(unreadColumns)
    .from(messages)
    .where(
      and(
        eq(messages.project_id, projectId),
        eq(messages.conversation_id, conversationId),
        eq(messages.direction, "inbound"),
        isNull(messages.read_at),
        eq(messages.status, "received"),
      ),
    )
    .orderBy(desc(messages.created_at))
    .limit(limit);
}

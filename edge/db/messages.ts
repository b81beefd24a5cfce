/** Storage for `messages`, `message_statuses` and `message_edits`. Every query names the project. Lists of messages: message-lists.ts. */
import { type SQL, and, asc, desc, eq, inArray, isNull, not, notInArray, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { MessageActor } from "../enums.ts";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { prepared } from "./reads.ts";
import { inList } from "./lists.ts";
import { type MessageRow, messageEdits, messageStatuses, messages } from "./schema/index.ts";

export type NewMessage = typeof messages.$inferInsert;

/** The message and its first history entry, together. */
export async function insertMessage(db: Db, row: NewMessage) {
  await db.batch([
    db.insert(messages).values(row),
    db.insert(messageStatuses).values({ message_id: row.id, status: row.status, reason: row.reason ?? null }),
  ]);
}

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

/** Frees a message's Idempotency-Key for a new request (the message itself stays). */
export async function releaseIdempotencyKey(db: Db, projectId: string, id: string) {
  await db
    .update(messages)
    .set({ idempotency_key: null, idempotency_fingerprint: null })
    .where(ofProject(messages, projectId, id));
}

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

/** Which message a move is about: its id, or a subquery naming it (a receipt's WhatsApp id, see `byWaId`). */
export type MessageRef = string | SQL;

/** A move's batch and what it gave: the message as moved (null: it was not movable), and the results of the `also` statements. */
export type Advanced = { moved: MessageRow | null; also: unknown[] };

/**
 * Moves a message to `patch.status` if it is in one of the `from` statuses,
 * and records the step in its history. Returns the message as it is now,
 * or null (and records nothing) when it was not in any of them.
 */
export async function advanceMessageStatus(
  db: Db,
  projectId: string,
  id: MessageRef,
  patch: Partial<Pick<MessageRow, "reason" | "message_secret" | "poll_message" | "sent_at" | "wa_message_id" | "content" | "media_id">> & {
    status: MessageRow["status"];
  },
  from: readonly MessageRow["status"][],
  /** A statement that counts the move (services/metrics.ts), given the update's condition; it runs first, in the batch. */
  count?: (movable: SQL) => BatchItem<"sqlite"> | null,
  /**
   * Other writes of the same moment, after the move in its batch. A plain
   * list lands whether or not the message moved; a function is given the
   * condition (on `messages`) that holds for the message only if this batch
   * moved it, to make its statements depend on the move.
   */
  also: BatchItem<"sqlite">[] | ((moved: SQL) => BatchItem<"sqlite">[]) = [],
): Promise<Advanced> {
  const at = new Date().toISOString();
  const movable = and(eq(messages.project_id, projectId), eq(messages.id, id), inArray(messages.status, [...from]))!;
  // The row carries this step's status and time only if the update moved it, in this batch.
  const moved = and(eq(messages.id, id), eq(messages.status, patch.status), eq(messages.updated_at, at))!;
  const counted = count?.(movable);
  // One batch, so a move is never without its history step (a retried write finds the message moved, or not at all).
  const statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [
    db
      .update(messages)
      .set({ ...patch, updated_at: at })
      .where(movable)
      .returning(),
    db.insert(messageStatuses).select(
      db
        // Every column in table order (drizzle's rule); a null id takes the next autoincrement value.
        .select({ id: sql<number>`null`.as("id"), message_id: messages.id, status: messages.status, reason: sql<string | null>`${patch.reason ?? null}`.as("reason"), at: messages.updated_at })
        .from(messages)
        .where(moved),
    ),
  ];
  // The count first: it reads the message's status before the update moves it.
  if (counted) statements.unshift(counted);
  const others = typeof also === "function" ? also(moved) : also;
  statements.push(...others);
  const results = await db.batch(statements);
  const first = counted ? 1 : 0;
  const [row] = results[first] as MessageRow[];
  return { moved: row ?? null, also: results.slice(first + 2) };
}

/** True when a message matches `where` (a condition on `messages`), for a statement on another table. */
export const messageExists = (where: SQL) => sql`EXISTS (SELECT 1 FROM ${messages} WHERE ${where})`;

/** The id of this number's message with this WhatsApp id (one it sent), as a subquery: what a receipt names. */
export const byWaId = (projectId: string, instanceId: string, waMessageId: string): SQL =>
  sql`(SELECT ${messages.id} FROM ${messages} WHERE ${messages.project_id} = ${projectId} AND ${messages.instance_id} = ${instanceId} AND ${messages.wa_message_id} = ${waMessageId} AND ${messages.direction} = 'outbound' LIMIT 1)`;

/**
 * A new body for a message (its `content` as it now is) and the edit in its
 * history, in one batch, unless the message is in one of the `closed`
 * statuses, or (`wa_message_id`) that edit was already applied. Returns the
 * message as edited, or null when nothing was written.
 */
export async function editMessageBody(
  db: Db,
  projectId: string,
  id: string,
  edit: { content: Record<string, unknown>; previous_body: string | null; body: string; by: MessageActor; wa_message_id?: string | null },
  closed: readonly MessageRow["status"][],
): Promise<MessageRow | null> {
  const at = new Date().toISOString();
  const waId = edit.wa_message_id ?? null;
  const applied = waId
    ? sql`EXISTS (SELECT 1 FROM ${messageEdits} WHERE ${messageEdits.message_id} = ${id} AND ${messageEdits.wa_message_id} = ${waId})`
    : undefined;
  const [[edited]] = await db.batch([
    db
      .update(messages)
      .set({ content: edit.content, edited_at: at, updated_at: at })
      .where(and(eq(messages.project_id, projectId), eq(messages.id, id), notInArray(messages.status, [...closed]), applied && not(applied)))
      .returning(),
    db.insert(messageEdits).select(
      db
        .select({
          id: sql<number>`null`.as("id"),
          message_id: messages.id,
          previous_body: sql<string | null>`${edit.previous_body}`.as("previous_body"),
          body: sql<string>`${edit.body}`.as("body"),
          by: sql<string>`${edit.by}`.as("by"),
          wa_message_id: sql<string | null>`${waId}`.as("wa_message_id"),
          at: messages.edited_at,
        })
        .from(messages)
        .where(and(eq(messages.id, id), eq(messages.edited_at, at))),
    ),
  ]);
  return edited ?? null;
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

/** True once the message with this id is stored: makes batch statements conditional on an insert that may have been a repeat. */
export const stored = (id: string) => sql`EXISTS (SELECT 1 FROM ${messages} WHERE ${messages.id} = ${id})`;

/** The text of `stored`, for a hand-written statement whose parameter `?n` is the message's id. */
export const storedText = (n: number) => `EXISTS (SELECT 1 FROM messages WHERE id = ?${n})`;

/**
 * A received message and its first history entry, for a batch. The insert
 * does nothing when this number already stored this WhatsApp message (the
 * unique inbound index): the fleet resends after a lost link or a restart.
 * Written by hand, its text fixed: built by drizzle, these and the batch's
 * other statements were the largest part of a received message's SQL
 * building (bench/profiles/inbound-2026-12.md). The columns a received
 * message never sets keep their defaults (null, or none).
 */
export function insertReceived(d1: D1Database, row: MessageRow) {
  return [
    d1
      .prepare(
        `INSERT INTO messages (id, project_id, instance_id, chat_jid, direction, type, content, status, wa_message_id, sent_at,
           contact_id, conversation_id, sender_jid, quoted_id, media_id, from_me, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT DO NOTHING RETURNING id`,
      )
      .bind(
        row.id,
        row.project_id,
        row.instance_id,
        row.chat_jid,
        row.direction,
        row.type,
        JSON.stringify(row.content),
        row.status,
        row.wa_message_id,
        row.sent_at,
        row.contact_id,
        row.conversation_id,
        row.sender_jid,
        row.quoted_id,
        row.media_id,
        row.from_me ? 1 : 0,
        row.created_at,
        row.updated_at,
      ),
    // Its history starts only if the message row is the new one (the id is new to this attempt).
    d1.prepare("INSERT INTO message_statuses (message_id, status, reason, at) SELECT id, status, reason, created_at FROM messages WHERE id = ?1").bind(row.id),
  ] as const;
}

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

/** A sent message joins its contact's conversation. */
export function stampConversation(db: Db, projectId: string, id: string, link: { contact_id: string; conversation_id: string }) {
  return db
    .update(messages)
    .set(link)
    .where(ofProject(messages, projectId, id));
}

/**
 * The same for a batch that finds the link as it writes (subqueries): only
 * where `where` holds and the conversation was found. Returns the link when
 * it was written.
 */
export function stampFoundConversation(db: Db, projectId: string, where: SQL, link: { contact_id: SQL; conversation_id: SQL }) {
  return db
    .update(messages)
    .set(link)
    .where(and(eq(messages.project_id, projectId), where, sql`${link.conversation_id} IS NOT NULL`))
    .returning({ contact_id: messages.contact_id, conversation_id: messages.conversation_id });
}

/**
 * Moves messages to another contact and chat JID: a LID's messages once its
 * phone is known. `chat_jid` catches messages written to the LID before any
 * contact was stamped on them (queued sends).
 */
export function moveMessages(
  db: Db,
  projectId: string,
  from: { contact_id: string; chat_jid: string },
  to: { contact_id: string; chat_jid: string; conversation_id?: string | null },
) {
  const { conversation_id, ...rest } = to;
  return db
    .update(messages)
    .set(conversation_id ? { ...rest, conversation_id } : rest)
    .where(and(eq(messages.project_id, projectId), or(eq(messages.contact_id, from.contact_id), eq(messages.chat_jid, from.chat_jid))));
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

/** Received messages the number read now (their receipts are queued); each is stamped once. */
export async function stampRead(db: Db, projectId: string, ids: string[], at: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(messages)
    .set({ read_at: at })
    .where(and(eq(messages.project_id, projectId), inList(messages.id, ids), eq(messages.direction, "inbound"), isNull(messages.read_at)));
}

/**
 * Writes of `messages`, `message_statuses` and `message_edits`, imported by
 * their owner alone (services/message-status.ts, test/shared/
 * table-owners.test.ts): the accepted insert, moves between statuses with
 * their history step, edits, a received message's statements, filing a
 * message under its contact and conversation, and read stamps. The hottest
 * are SQL text written once (written.ts). Reads: messages.ts.
 */
import { and, eq, isNull, not, notInArray, or, sql } from "drizzle-orm";
import type { MessageActor } from "../enums.ts";
import type { Db } from "./client.ts";
import { ofProject } from "./scope.ts";
import { driverValue, inConstants, readerOf, written, type Written } from "./written.ts";
import { inList } from "./lists.ts";
import { type MessageRow, messageEdits, messages } from "./schema/index.ts";

export type NewMessage = typeof messages.$inferInsert;

/** The message's INSERT, written once per set of columns the row gives (an accepted send's are always the same); the others take their defaults. */
const messageInserts = new Map<string, Written>();
function messageInsert(d1: D1Database, row: NewMessage): D1PreparedStatement {
  const keys = Object.keys(row).filter((key) => row[key as keyof NewMessage] !== undefined);
  const shape = keys.join();
  let write = messageInserts.get(shape);
  if (!write) {
    write = written(`INSERT INTO messages (${keys.map((key) => `"${key}"`).join(", ")}) VALUES (${keys.map((_, i) => `?${i + 1}`).join(", ")})`);
    messageInserts.set(shape, write);
  }
  return write(d1, keys.map((key) => driverValue(messages, key, row[key as keyof NewMessage])));
}
const firstStep = written("INSERT INTO message_statuses (message_id, status, reason) VALUES (?1, ?2, ?3)");

/** The message and its first history entry, together: written once (db/written.ts), as every accepted send runs them. */
export async function insertMessage(db: Db, row: NewMessage) {
  const d1 = db.$client;
  await d1.batch([messageInsert(d1, row), firstStep(d1, [row.id, row.status, row.reason ?? null])]);
}

/** Frees a message's Idempotency-Key for a new request (the message itself stays). */
export async function releaseIdempotencyKey(db: Db, projectId: string, id: string) {
  await db
    .update(messages)
    .set({ idempotency_key: null, idempotency_fingerprint: null })
    .where(ofProject(messages, projectId, id));
}

/** Which message a move is about: its id, or this number's message with a WhatsApp id (what a receipt names, see `byWaId`). */
export type MessageRef = string | { instance_id: string; wa_message_id: string };

/** A move's batch and what it gave: the message as moved (null: it was not movable), and the D1 results of the `also` statements. */
export type Advanced = { moved: MessageRow | null; also: D1Result[] };

type Patch = Partial<Pick<MessageRow, "reason" | "message_secret" | "poll_message" | "sent_at" | "wa_message_id" | "content" | "media_id">> & {
  status: MessageRow["status"];
};

/**
 * What a move's count (services/metrics.ts `countMove`) is written with:
 * the update's own condition, and the values it may use, as SQL text.
 */
export type MoveSql = { movable: string; hour: string; day: string; sent_at: string; reason: string };

/**
 * A move's statements, written once per shape (how the message is named,
 * the status, the statuses it may move from, the columns it sets, whether
 * it is counted). Their values, by role: ?1 project, ?2 message id (or
 * WhatsApp id), ?3 number (by WhatsApp id), ?4 the move's time, ?5 status,
 * ?6 reason, ?7 sent_at, ?8 hour, ?9 day, then the patch's columns.
 */
type MoveTexts = { count: Written | null; update: Written; history: Written };
const moveTexts = new Map<string, MoveTexts>();
const PATCH_AT = 10;

function moveTextsOf(byWa: boolean, status: string, from: readonly string[], keys: string[], count?: (sql: MoveSql) => string | null): MoveTexts {
  const shape = `${byWa}|${status}|${from.join()}|${keys.join()}|${count ? 1 : 0}`;
  let texts = moveTexts.get(shape);
  if (!texts) {
    const ref = byWa ? "(SELECT id FROM messages WHERE project_id = ?1 AND instance_id = ?3 AND wa_message_id = ?2 AND direction = 'outbound' LIMIT 1)" : "?2";
    const movable = `messages.project_id = ?1 AND messages.id = ${ref} AND ${inConstants("messages.status", from)}`;
    const set = keys.map((key, i) => `"${key}" = ?${PATCH_AT + i}`).join(", ");
    const counted = count?.({ movable, hour: "?8", day: "?9", sent_at: "?7", reason: "coalesce(?6, 'unknown')" });
    texts = {
      count: counted ? written(counted) : null,
      update: written(`UPDATE messages SET status = ?5, ${set ? `${set}, ` : ""}updated_at = ?4 WHERE ${movable} RETURNING *`),
      // The row carries this step's status and time only if the update moved it, in this batch.
      history: written(
        `INSERT INTO message_statuses (message_id, status, reason, at) SELECT id, status, ?6, updated_at FROM messages WHERE ${movedWhere({ id: ref, status: "?5", at: "?4" })}`,
      ),
    };
    moveTexts.set(shape, texts);
  }
  return texts;
}

const readMessage = readerOf(messages);
const HOUR_S = 3_600;
const DAY_S = 86_400;

/**
 * Moves a message to `patch.status` if it is in one of the `from` statuses,
 * and records the step in its history. Returns the message as it is now,
 * or null (and records nothing) when it was not in any of them.
 */
export async function advanceMessageStatus(
  db: Db,
  projectId: string,
  id: MessageRef,
  patch: Patch,
  from: readonly MessageRow["status"][],
  /**
   * The statement that counts the move (services/metrics.ts), written with
   * the update's condition; it runs first, in the batch. The same text for
   * every move of a shape: it is asked once per shape.
   */
  count?: (sql: MoveSql) => string | null,
  /**
   * Other writes of the same moment, after the move in its batch. A plain
   * list lands whether or not the message moved; a function is given the
   * move's time, to make its statements depend on the move (`movedSql`).
   */
  also: D1PreparedStatement[] | ((at: string) => D1PreparedStatement[]) = [],
): Promise<Advanced> {
  const at = new Date().toISOString();
  const now = Math.floor(Date.parse(at) / 1000);
  const keys = Object.keys(patch).filter((key) => key !== "status" && patch[key as keyof Patch] !== undefined);
  const texts = moveTextsOf(typeof id !== "string", patch.status, from, keys, count);
  const values: unknown[] = [
    projectId,
    typeof id === "string" ? id : id.wa_message_id,
    typeof id === "string" ? null : id.instance_id,
    at,
    patch.status,
    patch.reason ?? null,
    patch.sent_at ?? null,
    now - (now % HOUR_S),
    now - (now % DAY_S),
    ...keys.map((key) => driverValue(messages, key, patch[key as keyof Patch])),
  ];
  const d1 = db.$client;
  // One batch, so a move is never without its history step (a retried write finds the message moved, or not at all).
  // The count first: it reads the message's status before the update moves it.
  const statements = [texts.update(d1, values), texts.history(d1, values)];
  if (texts.count) statements.unshift(texts.count(d1, values));
  statements.push(...(typeof also === "function" ? also(at) : also));
  const results = await d1.batch<Record<string, unknown>>(statements);
  const first = texts.count ? 1 : 0;
  const [row] = results[first]!.results;
  return { moved: row ? readMessage(row) : null, also: results.slice(first + 2) };
}

/** The condition (on `messages`) that holds only if a batch moved message `id` to `status` at `at` (the move stamps its time), as SQL text. */
const movedWhere = (p: { id: string; status: string; at: string }) => `messages.id = ${p.id} AND messages.status = ${p.status} AND messages.updated_at = ${p.at}`;

/** True only if the batch moved the message (see movedWhere), for a statement on another table written once; each argument an SQL expression. */
export const movedSql = (p: { id: string; status: string; at: string }) => `EXISTS (SELECT 1 FROM messages WHERE ${movedWhere(p)})`;

/** This number's message with this WhatsApp id (one it sent): what a receipt names. */
export const byWaId = (instanceId: string, waMessageId: string): MessageRef => ({ instance_id: instanceId, wa_message_id: waMessageId });

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

// ------------------------------------------------------------ the receive path

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
    receivedHistory(d1, [row.id]),
  ] as const;
}

/**
 * A received message's first history entry, as SQL text for a statement
 * written once: only if the message `id` names (an SQL expression) is the
 * new one, since its id is new to this attempt.
 */
export const receivedHistorySql = (id: string) =>
  `INSERT INTO message_statuses (message_id, status, reason, at) SELECT id, status, reason, created_at FROM messages WHERE messages.id = ${id}`;
const receivedHistory = written(receivedHistorySql("?1"));

/**
 * A received message stored only if its customer's conversation is found
 * (`from`: a FROM clause giving `chat_jid`, `contact_id` and
 * `conversation_id` as SQL expressions), as SQL text for a statement
 * written once: the link is looked up as it is written, and a repeat of a
 * message this number stored (the unique inbound index) stores nothing.
 * Its rows: the link it was stored with, or none. Each argument an SQL
 * expression; the columns left out keep their defaults.
 */
export const insertReceivedFiledSql = (p: {
  id: string;
  project_id: string;
  instance_id: string;
  type: string;
  content: string;
  wa_message_id: string;
  quoted_id: string;
  media_id: string;
  at: string;
  chat_jid: string;
  contact_id: string;
  conversation_id: string;
  from: string;
}) =>
  `INSERT INTO messages (id, project_id, instance_id, chat_jid, direction, type, content, status, wa_message_id,
     contact_id, conversation_id, sender_jid, quoted_id, media_id, created_at, updated_at)
   SELECT ${p.id}, ${p.project_id}, ${p.instance_id}, ${p.chat_jid}, 'inbound', ${p.type}, ${p.content}, 'received', ${p.wa_message_id},
     ${p.contact_id}, ${p.conversation_id}, ${p.chat_jid}, ${p.quoted_id}, ${p.media_id}, ${p.at}, ${p.at}
   ${p.from}
   ON CONFLICT DO NOTHING RETURNING chat_jid, contact_id, conversation_id, sender_jid`;

/** A sent message joins its contact's conversation. */
export function stampConversation(db: Db, projectId: string, id: string, link: { contact_id: string; conversation_id: string }) {
  return db
    .update(messages)
    .set(link)
    .where(ofProject(messages, projectId, id));
}

/**
 * The same for the move to `sent`'s batch, which finds the link as it
 * writes (subqueries), as SQL text for a statement written once: only if
 * that batch moved the message and the conversation was found. Its
 * RETURNING is the link when it was written. Each argument an SQL expression.
 */
export const stampFoundConversationSql = (p: { project_id: string; id: string; status: string; at: string; contact_id: string; conversation_id: string }) =>
  `UPDATE messages SET contact_id = ${p.contact_id}, conversation_id = ${p.conversation_id}
   WHERE messages.project_id = ${p.project_id} AND ${movedWhere(p)} AND ${p.conversation_id} IS NOT NULL
   RETURNING contact_id, conversation_id`;

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

/** Received messages the number read now (their receipts are queued); each is stamped once. */
export async function stampRead(db: Db, projectId: string, ids: string[], at: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(messages)
    .set({ read_at: at })
    .where(and(eq(messages.project_id, projectId), inList(messages.id, ids), eq(messages.direction, "inbound"), isNull(messages.read_at)));
}

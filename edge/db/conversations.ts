/** Storage for `conversations`: one per contact across all numbers. Every query names the project. */
import { type SQL, and, desc, eq, inArray, isNotNull, lt, lte, or, sql } from "drizzle-orm";
import { QueryBuilder, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { type HoldingValues, contactIdsPlaced, holdingValues } from "./contacts.ts";
import type { Db } from "./client.ts";
import { storedText } from "./messages.ts";
import { first, ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { type Bound, prepared } from "./reads.ts";
import { written } from "./written.ts";
import { type ConversationRow, contacts, conversations, messages } from "./schema/index.ts";

export type NewConversation = typeof conversations.$inferInsert;
/** Where a page starts: after the row with this sort key and id (newest first). */
export type After = { at: string; id: string };

/** Rows after `after`, newest first, written so the index range stops at the cursor (`<=` bounds it; the OR breaks ties). */
export const afterKey = (at: SQLiteColumn, id: SQLiteColumn, after: After) => and(lte(at, after.at), or(lt(at, after.at), lt(id, after.id)));

export async function findConversation(db: Db, projectId: string, where: { contact_id: string } | { chat_jid: string }) {
  const match = "contact_id" in where ? eq(conversations.contact_id, where.contact_id) : eq(conversations.chat_jid, where.chat_jid);
  return first(db.select().from(conversations).where(and(eq(conversations.project_id, projectId), match)).limit(1));
}

/** As a subquery: the id of the conversation of the contact `contactId` names (a subquery too), or NULL. SQL text for a statement written once; each argument an SQL expression. */
export const conversationIdOfSql = (projectId: string, contactId: string) =>
  `(SELECT conversations.id FROM conversations WHERE conversations.project_id = ${projectId} AND conversations.contact_id = ${contactId})`;

/**
 * A new conversation for the contact `contact_id` names (a subquery), keyed
 * on its phone JID, unless `onlyIf` fails, there is no such contact, or it
 * has a conversation (or its chat one) already. SQL text for a statement
 * written once; each argument an SQL expression.
 */
export const insertConversationIfNewSql = (p: { id: string; project_id: string; instance_id: string; contact_id: string; onlyIf: string }) =>
  `INSERT INTO conversations (id, project_id, contact_id, chat_jid, instance_id)
   SELECT ${p.id}, ${p.project_id}, contacts.id, contacts.jid, ${p.instance_id} FROM contacts
   WHERE contacts.id = ${p.contact_id} AND contacts.jid IS NOT NULL AND ${p.onlyIf}
   AND NOT EXISTS (SELECT 1 FROM conversations WHERE conversations.project_id = ${p.project_id} AND conversations.contact_id = contacts.id)
   ON CONFLICT DO NOTHING`;

/**
 * `insertConversationIfNew` for a contact inserted in the same batch (a new
 * customer's first message), its text fixed: keyed on the contact's phone
 * JID; its rows are the conversation started, or none.
 */
export const conversationStartStatement = (d1: D1Database, row: { id: string; project_id: string; instance_id: string }, contactId: string): Bound<ConversationRow> =>
  d1
    .prepare(
      `INSERT INTO conversations (id, project_id, contact_id, chat_jid, instance_id)
       SELECT ?1, ?2, c.id, c.jid, ?3 FROM contacts c
       WHERE c.project_id = ?2 AND c.id = ?4 AND c.jid IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM conversations WHERE project_id = ?2 AND contact_id = c.id)
       ON CONFLICT DO NOTHING RETURNING *`,
    )
    .bind(row.id, row.project_id, row.instance_id, contactId);

export async function conversationsOfContacts(db: Db, projectId: string, contactIds: string[]): Promise<ConversationRow[]> {
  if (contactIds.length === 0) return [];
  return db
    .select()
    .from(conversations)
    .where(and(eq(conversations.project_id, projectId), inList(conversations.contact_id, contactIds)));
}

const ofContactsRead = prepared<ConversationRow, HoldingValues>(
  new QueryBuilder()
    .select()
    .from(conversations)
    .where(and(eq(conversations.project_id, sql.placeholder("project_id")), inArray(conversations.contact_id, contactIdsPlaced))),
);

/** The conversations of the contacts `findContacts` finds, as a read for a batch (db/reads.ts), its text built once. */
export const conversationsOfContactsRead = (d1: D1Database, projectId: string, phones: string[], lids: string[]) =>
  ofContactsRead(d1, holdingValues(projectId, phones, lids));

/** Inserts unless the contact (or chat) already has one (a concurrent first message); returns the row if inserted. */
export async function insertConversation(db: Db, row: NewConversation): Promise<ConversationRow | undefined> {
  const [inserted] = await db.insert(conversations).values(row).onConflictDoNothing().returning();
  return inserted;
}

/**
 * A message joined the conversation. Inbound: one more unread, and the
 * customer's 24-hour window restarts. Outbound: the business answered, so
 * nothing is unread any more. The last message moves only forward in time
 * (an offline backlog arriving late does not replace a newer one).
 */
export function conversationTouched(
  db: Db,
  projectId: string,
  /** The conversation's id, or a subquery that finds it. */
  id: string | SQL,
  touch: {
    message_id: string;
    at: string;
    instance_id: string;
    /** Inbound: when the customer wrote it (WhatsApp's time); false for ours. */
    inbound: string | false;
    onlyIf?: SQL;
  },
) {
  const newer = sql`(${conversations.last_message_at} IS NULL OR ${conversations.last_message_at} <= ${touch.at})`;
  return db
    .update(conversations)
    .set({
      last_message_id: sql`CASE WHEN ${newer} THEN ${touch.message_id} ELSE ${conversations.last_message_id} END`,
      last_message_at: sql`max(coalesce(${conversations.last_message_at}, ''), ${touch.at})`,
      instance_id: touch.instance_id,
      unread_count: touch.inbound ? sql`${conversations.unread_count} + 1` : 0,
      last_inbound_at: touch.inbound
        ? sql`max(coalesce(${conversations.last_inbound_at}, ''), ${touch.inbound})`
        : sql`${conversations.last_inbound_at}`,
      updated_at: new Date().toISOString(),
    })
    .where(and(eq(conversations.project_id, projectId), eq(conversations.id, id), touch.onlyIf));
}

/**
 * `conversationTouched` for a received message (or one written from the
 * number's phone), as SQL text for a statement written once: `inbound` is
 * when the customer wrote it (NULL: ours, so nothing is unread any more).
 * Each argument an SQL expression; `returning`: column names, or none.
 */
export const conversationTouchedByReceivedSql = (
  p: { project_id: string; id: string; message_id: string; at: string; instance_id: string; inbound: string; updated_at: string; onlyIf: string },
  returning?: string,
) =>
  `UPDATE conversations SET
     last_message_id = CASE WHEN last_message_at IS NULL OR last_message_at <= ${p.at} THEN ${p.message_id} ELSE last_message_id END,
     last_message_at = max(coalesce(last_message_at, ''), ${p.at}), instance_id = ${p.instance_id},
     unread_count = CASE WHEN ${p.inbound} IS NULL THEN 0 ELSE unread_count + 1 END,
     last_inbound_at = CASE WHEN ${p.inbound} IS NULL THEN last_inbound_at ELSE max(coalesce(last_inbound_at, ''), ${p.inbound}) END,
     updated_at = ${p.updated_at}
   WHERE conversations.project_id = ${p.project_id} AND conversations.id = ${p.id} AND ${p.onlyIf}${returning ? ` RETURNING ${returning}` : ""}`;

const touchedIfStored = written(
  conversationTouchedByReceivedSql({
    at: "?1", message_id: "?2", instance_id: "?3", inbound: "?4", updated_at: "?5", project_id: "?6", id: "?7", onlyIf: storedText(8),
  }),
);

/** The same for the receive path's batch once its conversation is known, only if the message `storedId` was stored (a repeat touches nothing). */
export function conversationTouchedIfStored(
  d1: D1Database,
  projectId: string,
  id: string,
  touch: { message_id: string; at: string; instance_id: string; inbound: string | false; storedId: string },
) {
  return touchedIfStored(d1, [touch.at, touch.message_id, touch.instance_id, touch.inbound || null, new Date().toISOString(), projectId, id, touch.storedId]);
}

/**
 * The conversation of the contact `contactId` names (a subquery), as the
 * FROM clause of a statement written once, which reads it as
 * `conversations.<column>`: no row when there is none.
 */
export const conversationOfContactFromSql = (projectId: string, contactId: string) =>
  `FROM conversations WHERE conversations.project_id = ${projectId} AND conversations.contact_id = ${contactId}`;

/**
 * `conversationTouched` for a message we sent (nothing is unread any more),
 * as SQL text for a statement written once; each argument an SQL expression
 * (`id`: a subquery, `conversationIdOfSql`).
 */
export const conversationTouchedSql = (p: { project_id: string; id: string; message_id: string; at: string; instance_id: string; onlyIf: string }) =>
  `UPDATE conversations SET
     last_message_id = CASE WHEN (last_message_at IS NULL OR last_message_at <= ${p.at}) THEN ${p.message_id} ELSE last_message_id END,
     last_message_at = max(coalesce(last_message_at, ''), ${p.at}), instance_id = ${p.instance_id}, unread_count = 0, updated_at = ${p.at}
   WHERE conversations.project_id = ${p.project_id} AND conversations.id = ${p.id} AND ${p.onlyIf}`;

export function updateConversation(
  db: Db,
  projectId: string,
  id: string,
  patch: Partial<Omit<ConversationRow, "id" | "project_id" | "created_at" | "updated_at">>,
) {
  return db
    .update(conversations)
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where(ofProject(conversations, projectId, id));
}

export function deleteConversation(db: Db, projectId: string, id: string) {
  return db.delete(conversations).where(ofProject(conversations, projectId, id));
}

export async function markRead(db: Db, projectId: string, id: string) {
  await updateConversation(db, projectId, id, { unread_count: 0 });
}

/** A page of conversations with their contact and last message, newest activity first. */
export async function listConversations(db: Db, projectId: string, opts: { instance_id?: string; limit: number; after?: After }) {
  const { after } = opts;
  return db
    .select({
      conversation: conversations,
      contact: { id: contacts.id, phone: contacts.phone, jid: contacts.jid, lid: contacts.lid, name: contacts.name },
      last: messages,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contact_id))
    .leftJoin(messages, eq(messages.id, conversations.last_message_id))
    .where(
      and(
        eq(conversations.project_id, projectId),
        opts.instance_id ? eq(conversations.instance_id, opts.instance_id) : undefined,
        // A conversation with no message yet has nothing to show.
        isNotNull(conversations.last_message_at),
        after ? afterKey(conversations.last_message_at, conversations.id, after) : undefined,
      ),
    )
    .orderBy(desc(conversations.last_message_at), desc(conversations.id))
    .limit(opts.limit);
}

/** The chats whose customers talk to this number now (it is their sticky number), most recently active first. */
export async function chatsOfNumber(db: Db, projectId: string, instanceId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ chat_jid: conversations.chat_jid })
    .from(conversations)
    .where(and(eq(conversations.project_id, projectId), eq(conversations.instance_id, instanceId), isNotNull(conversations.last_message_at)))
    .orderBy(desc(conversations.last_message_at))
    .limit(limit);
  return rows.map((row) => row.chat_jid);
}

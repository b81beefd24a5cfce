/**
 * Storage for `chat_numbers`: the number each chat talks to (its sticky
 * number, schema/contacts.ts). Every statement names the project. The
 * accept's read and its stick are written by hand, their text fixed at load:
 * they run on every sticky send.
 */
import { type SQL, and, eq, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { prepared } from "./reads.ts";
import { chatNumbers, recipients } from "./schema/index.ts";

export type ChatNumber = { chat_jid: string; instance_id: string };

/** The chat's row by its JID, or by the JID the recipients cache holds for a phone. */
const chatRead = prepared<ChatNumber, { project_id: string; jid: string | null; phone: string | null }>(
  new QueryBuilder()
    .select({ chat_jid: chatNumbers.chat_jid, instance_id: chatNumbers.instance_id })
    .from(chatNumbers)
    .where(
      and(
        eq(chatNumbers.project_id, sql.placeholder("project_id")),
        sql`${chatNumbers.chat_jid} IN (${sql.placeholder("jid")}, (SELECT ${recipients.jid} FROM ${recipients} WHERE ${recipients.project_id} = ${sql.placeholder("project_id")} AND ${recipients.phone} = ${sql.placeholder("phone")}))`,
      ),
    ),
);

/**
 * The chat's row, as a read for a batch (db/reads.ts): `to` is a JID, or a
 * phone whose JID is then the cached one (the caller compares `chat_jid`
 * with the JID the send resolved to).
 */
export const chatNumberRead = (d1: D1Database, projectId: string, to: { jid?: string; phone?: string }) =>
  chatRead(d1, { project_id: projectId, jid: to.jid ?? null, phone: to.phone ?? null });

/** The number the chat talks to, if the table has it. */
export async function findChatNumber(d1: D1Database, projectId: string, chatJid: string): Promise<string | null> {
  const { results } = await chatNumberRead(d1, projectId, { jid: chatJid }).all<ChatNumber>();
  return results[0]?.instance_id ?? null;
}

const STICK = `INSERT INTO chat_numbers (project_id, chat_jid, instance_id, updated_at) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (project_id, chat_jid) DO UPDATE SET instance_id = excluded.instance_id, updated_at = excluded.updated_at
  WHERE chat_numbers.instance_id NOT IN (SELECT value FROM json_each(?5))`;
const NUMBER_OF = "SELECT instance_id FROM chat_numbers WHERE project_id = ?1 AND chat_jid = ?2";

/**
 * Sticks the chat to `candidate` unless its row names one of `usable`, and
 * returns the number it has now. One batch, so one transaction: concurrent
 * first sends to one chat all get the number the first of them wrote.
 */
export async function stickChat(d1: D1Database, projectId: string, chatJid: string, candidate: string, usable: string[]): Promise<string> {
  const [, now] = await d1.batch<{ instance_id: string }>([
    d1.prepare(STICK).bind(projectId, chatJid, candidate, new Date().toISOString(), JSON.stringify(usable)),
    d1.prepare(NUMBER_OF).bind(projectId, chatJid),
  ]);
  return now!.results[0]?.instance_id ?? candidate;
}

/**
 * Makes `instance_id` the chat's number, for a batch (drizzle), written only
 * when it changes; only when `onlyIf` holds, if given (the batch's condition).
 */
export const setChatNumber = (db: Db, projectId: string, chatJid: string, instanceId: string, onlyIf: SQL = sql`true`) =>
  db
    .insert(chatNumbers)
    .select(sql`SELECT ${projectId}, ${chatJid}, ${instanceId}, ${new Date().toISOString()} WHERE ${onlyIf}`)
    .onConflictDoUpdate({
      target: [chatNumbers.project_id, chatNumbers.chat_jid],
      set: { instance_id: sql`excluded.instance_id`, updated_at: sql`excluded.updated_at` },
      setWhere: sql`${chatNumbers.instance_id} IS NOT excluded.instance_id`,
    });

/** Writes the number a chat had before this table (its legacy object's), unless the table has one already. */
export const backfillChatNumber = (db: Db, projectId: string, chatJid: string, instanceId: string) =>
  db.insert(chatNumbers).values({ project_id: projectId, chat_jid: chatJid, instance_id: instanceId, updated_at: new Date().toISOString() }).onConflictDoNothing();

/**
 * Storage for `chat_numbers`: the number each chat talks to (its sticky
 * number, schema/contacts.ts). Every statement names the project. The
 * accept's read and its stick are written by hand, their text fixed at load:
 * they run on every sticky send.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { storedText } from "./messages.ts";
import type { Bound } from "./reads.ts";
import { written } from "./written.ts";
import { chatNumbers } from "./schema/index.ts";

/** The chat a read looked for (null: a phone the recipients cache has no JID for) and its number (null: no row). */
export type ChatNumber = { chat_jid: string | null; instance_id: string | null };

/** One row always: the chat (`?2`, else the cached JID of the phone `?3`) and its number, if it has a row. */
const CHAT_READ = `SELECT j.jid AS chat_jid, c.instance_id AS instance_id
  FROM (SELECT COALESCE(?2, (SELECT jid FROM recipients WHERE project_id = ?1 AND phone = ?3)) AS jid) j
  LEFT JOIN chat_numbers c ON c.project_id = ?1 AND c.chat_jid = j.jid`;

/**
 * The chat's number, as a read for a batch (db/reads.ts): `to` is a JID, or a
 * phone, looked for under the JID the recipients cache holds for it (the
 * caller compares `chat_jid` with the JID the send resolved to).
 */
export const chatNumberRead = (d1: D1Database, projectId: string, to: { jid?: string; phone?: string }): Bound<ChatNumber> =>
  d1.prepare(CHAT_READ).bind(projectId, to.jid ?? null, to.phone ?? null);

/** The number the chat talks to, if the table has it. */
export async function findChatNumber(d1: D1Database, projectId: string, chatJid: string): Promise<string | null> {
  return (await chatNumberRead(d1, projectId, { jid: chatJid }).first<ChatNumber>())?.instance_id ?? null;
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

/**
 * `setChatNumber` for the receive path's batch, as SQL text for a statement
 * written once. Each argument an SQL expression (`chat_jid`: a subquery, say).
 */
export const chatNumberWrittenSql = (p: { project_id: string; chat_jid: string; instance_id: string; at: string; onlyIf: string }) =>
  `INSERT INTO chat_numbers (project_id, chat_jid, instance_id, updated_at) SELECT ${p.project_id}, ${p.chat_jid}, ${p.instance_id}, ${p.at} WHERE ${p.onlyIf}
   ON CONFLICT (project_id, chat_jid) DO UPDATE SET instance_id = excluded.instance_id, updated_at = excluded.updated_at
   WHERE chat_numbers.instance_id IS NOT excluded.instance_id`;

const setIfStored = written(chatNumberWrittenSql({ project_id: "?1", chat_jid: "?2", instance_id: "?3", at: "?4", onlyIf: storedText(5) }));

/** The same with the chat known: only if the message `storedId` was stored. */
export const setChatNumberIfStored = (d1: D1Database, projectId: string, chatJid: string, instanceId: string, storedId: string) =>
  setIfStored(d1, [projectId, chatJid, instanceId, new Date().toISOString(), storedId]);

/** Writes the number a chat had before this table (its legacy object's), unless the table has one already. */
export const backfillChatNumber = (db: Db, projectId: string, chatJid: string, instanceId: string) =>
  db.insert(chatNumbers).values({ project_id: projectId, chat_jid: chatJid, instance_id: instanceId, updated_at: new Date().toISOString() }).onConflictDoNothing();

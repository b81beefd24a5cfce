/** Storage for `recipients`: what WhatsApp said about a phone number, per project. */
import { and, eq, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { inList } from "./lists.ts";
import { inListOf, prepared } from "./reads.ts";
import { recipients } from "./schema/index.ts";

export type RecipientRow = typeof recipients.$inferSelect;

export async function findRecipients(db: Db, projectId: string, phones: string[]) {
  if (phones.length === 0) return [];
  return recipientsQuery(db, projectId, phones);
}

const recipientsQuery = (db: Db, projectId: string, phones: string[]) =>
  db.select().from(recipients).where(and(eq(recipients.project_id, projectId), inList(recipients.phone, phones)));

export type CachedRecipient = Pick<RecipientRow, "phone" | "jid" | "checked_at">;

const cachedRead = prepared<CachedRecipient, { project_id: string; phones: string }>(
  new QueryBuilder()
    .select({ phone: recipients.phone, jid: recipients.jid, checked_at: recipients.checked_at })
    .from(recipients)
    .where(and(eq(recipients.project_id, sql.placeholder("project_id")), inListOf(recipients.phone, "phones"))),
);

/** `findRecipients` as a read for a batch (db/reads.ts). */
export const cachedRecipientsRead = (d1: D1Database, projectId: string, phones: string[]) =>
  cachedRead(d1, { project_id: projectId, phones: JSON.stringify(phones) });

export async function saveRecipients(db: Db, projectId: string, rows: { phone: string; jid: string | null }[]) {
  const checked_at = new Date().toISOString();
  const upsert = (row: { phone: string; jid: string | null }) =>
    db
      .insert(recipients)
      .values({ project_id: projectId, ...row, checked_at })
      .onConflictDoUpdate({ target: [recipients.project_id, recipients.phone], set: { jid: row.jid, checked_at } });
  const [first, ...rest] = rows;
  if (first) await db.batch([upsert(first), ...rest.map(upsert)]);
}

/** Storage for `recipients`: what WhatsApp said about a phone number, per project. */
import { and, eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { inList } from "./lists.ts";
import { recipients } from "./schema/index.ts";

export type RecipientRow = typeof recipients.$inferSelect;

export async function findRecipients(db: Db, projectId: string, phones: string[]) {
  if (phones.length === 0) return [];
  return recipientsQuery(db, projectId, phones);
}

/** The same lookup as a query, for a batch. */
export const recipientsQuery = (db: Db, projectId: string, phones: string[]) =>
  db.select().from(recipients).where(and(eq(recipients.project_id, projectId), inList(recipients.phone, phones)));

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

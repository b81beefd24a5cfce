/** Storage for `suppressions`: the numbers a project must never message. Every query names the project. */
import { and, count, desc, eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { inList } from "./lists.ts";
import { type SuppressionRow, suppressions } from "./schema/index.ts";

export type NewSuppression = typeof suppressions.$inferInsert;

const phoneIn = (phones: string[]) => inList(suppressions.phone, phones);

/** Entries for any of these phones (`+<digits>`): one primary-key lookup per phone. */
export async function findSuppressions(db: Db, projectId: string, phones: string[]): Promise<SuppressionRow[]> {
  if (phones.length === 0) return [];
  return suppressionsQuery(db, projectId, phones);
}

/** The same lookup as a query, for a batch. */
export const suppressionsQuery = (db: Db, projectId: string, phones: string[]) =>
  db
    .select()
    .from(suppressions)
    .where(and(eq(suppressions.project_id, projectId), phoneIn(phones)));

export async function listSuppressions(db: Db, projectId: string, page: { limit: number; offset: number }) {
  const mine = eq(suppressions.project_id, projectId);
  const [rows, [total]] = await db.batch([
    db.select().from(suppressions).where(mine).orderBy(desc(suppressions.created_at), desc(suppressions.phone)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(suppressions).where(mine),
  ]);
  return { rows, total: total?.n ?? 0 };
}

/** Adds the entry, or gives an existing one the new reason, source and note (the latest decision is the one on record); for a batch. */
export function upsertSuppression(db: Db, row: NewSuppression) {
  return db
    .insert(suppressions)
    .values(row)
    .onConflictDoUpdate({ target: [suppressions.project_id, suppressions.phone], set: { reason: row.reason, source: row.source, note: row.note ?? null } });
}

/** Removes the entries for these phones; for a batch. */
export function deleteSuppressions(db: Db, projectId: string, phones: string[]) {
  return db
    .delete(suppressions)
    .where(and(eq(suppressions.project_id, projectId), phoneIn(phones)))
    .returning({ phone: suppressions.phone });
}

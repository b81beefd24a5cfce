/** Storage for `suppressions`: the numbers a project must never message. Every query names the project. */
import { and, count, desc, eq, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { inList } from "./lists.ts";
import { inListOf, prepared } from "./reads.ts";
import { type SuppressionRow, suppressions } from "./schema/index.ts";

export type NewSuppression = typeof suppressions.$inferInsert;

const phoneIn = (phones: string[]) => inList(suppressions.phone, phones);

/** Entries for any of these phones (`+<digits>`): one primary-key lookup per phone. */
export async function findSuppressions(db: Db, projectId: string, phones: string[]): Promise<SuppressionRow[]> {
  if (phones.length === 0) return [];
  return suppressionsQuery(db, projectId, phones);
}

const suppressionsQuery = (db: Db, projectId: string, phones: string[]) =>
  db
    .select()
    .from(suppressions)
    .where(and(eq(suppressions.project_id, projectId), phoneIn(phones)));

const reasonsRead = prepared<Pick<SuppressionRow, "reason">, { project_id: string; phones: string }>(
  new QueryBuilder()
    .select({ reason: suppressions.reason })
    .from(suppressions)
    .where(and(eq(suppressions.project_id, sql.placeholder("project_id")), inListOf(suppressions.phone, "phones"))),
);

/** The reasons of the entries `findSuppressions` finds, as a read for a batch (db/reads.ts): all a send's refusal needs. */
export const suppressionReasonsRead = (d1: D1Database, projectId: string, phones: string[]) =>
  reasonsRead(d1, { project_id: projectId, phones: JSON.stringify(phones) });

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

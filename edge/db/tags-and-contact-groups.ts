/**
 * Storage for the CRM dictionaries, `tags` and `contact_groups`, and their
 * links to contacts (`contact_tags`, `contact_group_members`). The two have
 * one shape (key, name, color; a link table keyed by contact and entry), so
 * one piece of code serves both, told which tables by a `Dictionary`.
 * Every query names the project.
 */
import { and, asc, count, eq, getTableColumns, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { ofProject } from "./scope.ts";
import { inList, rowsOf } from "./lists.ts";
import { type TagRow, contactGroupMembers, contactGroups, contactTags, tags } from "./schema/index.ts";

/** A dictionary entry: a tag or a contact group (the same columns). */
export type EntryRow = TagRow;
export type NewEntry = typeof tags.$inferInsert;
export type CountedEntry = EntryRow & { count: number };

export type Dictionary = {
  /** The entries. Typed as `tags`: `contact_groups` has the same columns. */
  table: typeof tags;
  links: typeof contactTags | typeof contactGroupMembers;
  /** The links' column naming the entry. */
  linkColumn: SQLiteColumn;
};

export const TAGS: Dictionary = { table: tags, links: contactTags, linkColumn: contactTags.entry_id };
export const CONTACT_GROUPS: Dictionary = {
  table: contactGroups as unknown as typeof tags,
  links: contactGroupMembers,
  linkColumn: contactGroupMembers.entry_id,
};

const keyIn = (d: Dictionary, keys: string[]) => inList(d.table.key, keys);

/** The live number of contacts linked to each entry (the links' index on the entry column answers it). */
const counted = (d: Dictionary) => ({
  ...getTableColumns(d.table),
  count: sql<number>`(SELECT count(*) FROM ${d.links} WHERE ${d.linkColumn} = ${d.table.id})`.mapWith(Number),
});

export async function listEntries(db: Db, d: Dictionary, projectId: string, page: { limit: number; offset: number }) {
  const mine = eq(d.table.project_id, projectId);
  const [rows, [total]] = await db.batch([
    db.select(counted(d)).from(d.table).where(mine).orderBy(asc(d.table.key)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(d.table).where(mine),
  ]);
  return { rows: rows as CountedEntry[], total: total?.n ?? 0 };
}

export async function findEntry(db: Db, d: Dictionary, projectId: string, id: string): Promise<CountedEntry | undefined> {
  const [row] = await db
    .select(counted(d))
    .from(d.table)
    .where(ofProject(d.table, projectId, id))
    .limit(1);
  return row as CountedEntry | undefined;
}

/** Inserts unless the key exists in the project; returns the row if inserted. */
export async function insertEntry(db: Db, d: Dictionary, row: NewEntry): Promise<EntryRow | undefined> {
  const [inserted] = await db.insert(d.table).values(row).onConflictDoNothing().returning();
  return inserted;
}

export async function updateEntry(db: Db, d: Dictionary, projectId: string, id: string, patch: Partial<Pick<EntryRow, "name" | "color">>) {
  const [row] = await db
    .update(d.table)
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where(ofProject(d.table, projectId, id))
    .returning({ id: d.table.id });
  return row !== undefined;
}

/** Removes the entry; its links go with it (ON DELETE CASCADE). */
export async function deleteEntry(db: Db, d: Dictionary, projectId: string, id: string): Promise<boolean> {
  const [row] = await db
    .delete(d.table)
    .where(ofProject(d.table, projectId, id))
    .returning({ id: d.table.id });
  return row !== undefined;
}

/** Creates the keys the project does not have yet (named after their key), for a batch. */
export function ensureEntries(db: Db, d: Dictionary, projectId: string, rows: NewEntry[]) {
  return db
    .insert(d.table)
    .select(rowsOf(d.table, rows.map((r) => ({ ...r, project_id: projectId }))))
    .onConflictDoNothing();
}

/** Links the contact to the entries with these keys (already linked: left as is), for a batch. */
export function linkEntries(db: Db, d: Dictionary, projectId: string, contactId: string, keys: string[]) {
  // Both link tables have these columns in this order: project, contact, entry, created_at.
  const links = d.links as typeof contactTags;
  return db
    .insert(links)
    .select(
      sql`SELECT ${projectId}, ${contactId}, ${d.table.id}, ${new Date().toISOString()} FROM ${d.table}
          WHERE ${d.table.project_id} = ${projectId} AND ${keyIn(d, keys)}`,
    )
    .onConflictDoNothing();
}

/** Unlinks the contact from the entries with these keys, for a batch. */
export function unlinkEntries(db: Db, d: Dictionary, projectId: string, contactId: string, keys: string[]) {
  const ids = sql`SELECT ${d.table.id} FROM ${d.table} WHERE ${d.table.project_id} = ${projectId} AND ${keyIn(d, keys)}`;
  return db
    .delete(d.links)
    .where(and(eq(d.links.project_id, projectId), eq(d.links.contact_id, contactId), sql`${d.linkColumn} IN (${ids})`));
}

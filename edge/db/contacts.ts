/** Storage for `contacts`: one row per person the project talks to. Every query names the project. */
import { type SQL, and, eq, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { type ContactRow, contactGroupMembers, contactGroups, contactTags, contacts, tags } from "./schema.ts";

export type NewContact = typeof contacts.$inferInsert;

const inList = (column: SQL | SQLiteColumn, values: string[]) =>
  // One bound parameter however long the list (D1 allows 100 per statement).
  sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;

/** Contacts holding any of these phones (`+<digits>`) or LIDs. */
export async function findContacts(db: Db, projectId: string, phones: string[], lids: string[]): Promise<ContactRow[]> {
  if (phones.length === 0 && lids.length === 0) return [];
  return db
    .select()
    .from(contacts)
    .where(and(eq(contacts.project_id, projectId), sql`(${inList(contacts.phone, phones)} OR ${inList(contacts.lid, lids)})`));
}

export async function findContact(db: Db, projectId: string, id: string): Promise<ContactRow | undefined> {
  const [row] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.project_id, projectId), eq(contacts.id, id)))
    .limit(1);
  return row;
}

/** Inserts unless the phone or LID already has a contact (a concurrent first message); returns the row if inserted. */
export async function insertContact(db: Db, row: NewContact): Promise<ContactRow | undefined> {
  const [inserted] = await db.insert(contacts).values(row).onConflictDoNothing().returning();
  return inserted;
}

/**
 * One more message with this contact: counters, the number that talked to
 * them last, and (inbound) the name they go by. `onlyIf` makes it part of a
 * batch that may turn out to have stored nothing (a repeat).
 */
export function contactTouched(
  db: Db,
  projectId: string,
  id: string,
  touch: { at: string; instance_id: string; name?: string | null; onlyIf?: SQL },
) {
  return db
    .update(contacts)
    .set({
      message_count: sql`${contacts.message_count} + 1`,
      last_message_at: sql`max(coalesce(${contacts.last_message_at}, ''), ${touch.at})`,
      instance_id: touch.instance_id,
      name: touch.name ? touch.name : sql`${contacts.name}`,
      updated_at: new Date().toISOString(),
    })
    .where(and(eq(contacts.project_id, projectId), eq(contacts.id, id), touch.onlyIf));
}

export function updateContact(db: Db, projectId: string, id: string, patch: Partial<Pick<ContactRow, "phone" | "jid" | "lid" | "name" | "message_count" | "last_message_at" | "instance_id">>) {
  return db
    .update(contacts)
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where(and(eq(contacts.project_id, projectId), eq(contacts.id, id)));
}

export function deleteContact(db: Db, projectId: string, id: string) {
  return db.delete(contacts).where(and(eq(contacts.project_id, projectId), eq(contacts.id, id)));
}

/** The tag keys and contact-group keys of these contacts (by contact id, keys sorted), in one round trip. */
export async function contactLabels(db: Db, projectId: string, contactIds: string[]) {
  const out = { tags: new Map<string, string[]>(), groups: new Map<string, string[]>() };
  if (contactIds.length === 0) return out;
  const [tagRows, groupRows] = await db.batch([
    db
      .select({ contact_id: contactTags.contact_id, key: tags.key })
      .from(contactTags)
      .innerJoin(tags, eq(tags.id, contactTags.tag_id))
      .where(and(eq(contactTags.project_id, projectId), inList(contactTags.contact_id, contactIds)))
      .orderBy(tags.key),
    db
      .select({ contact_id: contactGroupMembers.contact_id, key: contactGroups.key })
      .from(contactGroupMembers)
      .innerJoin(contactGroups, eq(contactGroups.id, contactGroupMembers.group_id))
      .where(and(eq(contactGroupMembers.project_id, projectId), inList(contactGroupMembers.contact_id, contactIds)))
      .orderBy(contactGroups.key),
  ]);
  for (const [rows, into] of [[tagRows, out.tags], [groupRows, out.groups]] as const) {
    for (const { contact_id, key } of rows) {
      const list = into.get(contact_id) ?? [];
      list.push(key);
      into.set(contact_id, list);
    }
  }
  return out;
}

/** The contact's privacy status (opt-out, block, reactivation): `opted_out_at` moves with it. */
export function setContactStatus(db: Db, projectId: string, id: string, change: Pick<ContactRow, "status" | "opted_out_at">) {
  return db
    .update(contacts)
    .set({ ...change, updated_at: new Date().toISOString() })
    .where(and(eq(contacts.project_id, projectId), eq(contacts.id, id)));
}

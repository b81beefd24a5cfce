/** Storage for `contacts`: one row per person the project talks to. Every query names the project. */
import { type SQL, and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { type ContactRow, contacts } from "./schema.ts";

export type NewContact = typeof contacts.$inferInsert;

const inList = (column: SQL | typeof contacts.phone | typeof contacts.lid, values: string[]) =>
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

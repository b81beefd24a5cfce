/**
 * Writes of `contacts`, imported by their owners alone (services/
 * contact-store.ts; a contact's status: contact-status.ts; its avatar:
 * contact-avatars.ts; test/shared/table-owners.test.ts): inserts (one, a
 * new customer's in a batch, many at once), a message's touch (counters,
 * the number that talked last, the push name), profile edits, status,
 * avatar and deletion. Every query names the project. Reads: contacts.ts.
 */
import { type SQL, and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { ofProject } from "./scope.ts";
import { storedText } from "./messages.ts";
import type { Bound } from "./reads.ts";
import { written } from "./written.ts";
import { type ContactRow, contacts } from "./schema/index.ts";

export type NewContact = typeof contacts.$inferInsert;

/**
 * A new contact of a phone, unless `onlyIf` fails or a contact holds any of
 * `phones` (a JSON list of its forms) already (a concurrent first message:
 * nothing either); the other columns take their defaults. SQL text for a
 * statement written once; each argument an SQL expression.
 */
export const insertContactIfNewSql = (p: {
  id: string;
  project_id: string;
  phone: string;
  jid: string;
  instance_id: string;
  source: string;
  /** The name they go by (a received message's push name); none when left out. */
  name?: string;
  phones: string;
  onlyIf: string;
}) =>
  `INSERT INTO contacts (id, project_id, phone, jid, name, instance_id, source)
   SELECT ${p.id}, ${p.project_id}, ${p.phone}, ${p.jid}, ${p.name ?? "NULL"}, ${p.instance_id}, ${p.source}
   WHERE ${p.onlyIf} AND NOT EXISTS (SELECT 1 FROM contacts WHERE contacts.project_id = ${p.project_id} AND contacts.phone IN (SELECT value FROM json_each(${p.phones})))
   ON CONFLICT DO NOTHING`;

/** Inserts unless the phone or LID already has a contact (a concurrent first message); returns the row if inserted. */
export async function insertContact(db: Db, row: NewContact): Promise<ContactRow | undefined> {
  const [inserted] = await db.insert(contacts).values(row).onConflictDoNothing().returning();
  return inserted;
}

/**
 * The same for a new customer heard from (their first message), as a
 * statement for a batch, its text fixed: its rows are the contact inserted
 * (as D1 gives it: `contactOfRead`), or none.
 */
export const contactInsertStatement = (
  d1: D1Database,
  row: Pick<ContactRow, "id" | "project_id" | "phone" | "jid" | "lid" | "name" | "instance_id" | "source">,
): Bound<Omit<ContactRow, "name_manual"> & { name_manual: number }> =>
  d1
    .prepare(
      `INSERT INTO contacts (id, project_id, phone, jid, lid, name, instance_id, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
       ON CONFLICT DO NOTHING RETURNING *`,
    )
    .bind(row.id, row.project_id, row.phone, row.jid, row.lid, row.name, row.instance_id, row.source);

/** The columns a bulk insert sets; the others take their defaults. */
const BULK_COLUMNS = [
  "id", "project_id", "phone", "source", "status", "name", "name_manual", "email", "document", "document_type",
  "address_street", "address_number", "address_complement", "address_district",
  "address_city", "address_state", "address_zip", "address_country",
] as const satisfies readonly (keyof NewContact)[];

/**
 * Inserts many contacts in one statement, the rows travelling as one JSON
 * parameter (D1 allows 100 bound parameters per statement). A row whose
 * phone already has a contact is left out. Returns the ids inserted.
 */
export async function insertContactsFrom(db: Db, rows: (NewContact & { id: string })[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const payload = JSON.stringify(rows.map((r) => BULK_COLUMNS.map((c) => (c === "name_manual" ? Boolean(r[c]) : (r[c] ?? null)))));
  const columns = sql.join(BULK_COLUMNS.map((c) => sql.identifier(c)), sql`, `);
  const values = sql.join(BULK_COLUMNS.map((_, i) => sql.raw(`value ->> ${i}`)), sql`, `);
  const inserted = await db.all<{ id: string }>(
    sql`INSERT INTO ${contacts} (${columns}) SELECT ${values} FROM json_each(${payload}) WHERE true ON CONFLICT DO NOTHING RETURNING id`,
  );
  return inserted.map((r) => r.id);
}

/**
 * One more message with this contact: counters, the number that talked to
 * them last, and (inbound) the name they go by. `onlyIf` makes it part of a
 * batch that may turn out to have stored nothing (a repeat).
 */
export function contactTouched(
  db: Db,
  projectId: string,
  /** The contact's id, or a subquery that finds it. */
  id: string | SQL,
  touch: { at: string; instance_id: string; name?: string | null; onlyIf?: SQL },
) {
  return db
    .update(contacts)
    .set({
      message_count: sql`${contacts.message_count} + 1`,
      last_message_at: sql`max(coalesce(${contacts.last_message_at}, ''), ${touch.at})`,
      instance_id: touch.instance_id,
      // A push name is WhatsApp's best guess: it fills in a name, but never replaces one a client gave.
      name: touch.name ? sql`CASE WHEN ${contacts.name_manual} AND ${contacts.name} IS NOT NULL THEN ${contacts.name} ELSE ${touch.name} END` : sql`${contacts.name}`,
      updated_at: new Date().toISOString(),
    })
    .where(and(eq(contacts.project_id, projectId), eq(contacts.id, id), touch.onlyIf));
}

/**
 * `contactTouched` for a received message (or one written from the number's
 * phone), as SQL text for a statement written once: one more message, and
 * the push name `name` (NULL: none) unless a client named them. Each
 * argument an SQL expression; `returning`: column names, or none.
 */
export const contactTouchedByReceivedSql = (
  p: { project_id: string; id: string; at: string; instance_id: string; name: string; updated_at: string; onlyIf: string },
  returning?: string,
) =>
  `UPDATE contacts SET message_count = message_count + 1, last_message_at = max(coalesce(last_message_at, ''), ${p.at}), instance_id = ${p.instance_id},
     name = CASE WHEN ${p.name} IS NULL OR (name_manual AND name IS NOT NULL) THEN name ELSE ${p.name} END, updated_at = ${p.updated_at}
   WHERE contacts.project_id = ${p.project_id} AND contacts.id = ${p.id} AND ${p.onlyIf}${returning ? ` RETURNING ${returning}` : ""}`;

const touchedIfStored = written(
  contactTouchedByReceivedSql({ at: "?1", instance_id: "?2", name: "?3", updated_at: "?4", project_id: "?5", id: "?6", onlyIf: storedText(7) }),
);

/**
 * The same for the receive path's batch once its contact is known, stored
 * only if the message `storedId` was (a repeat touches nothing).
 */
export function contactTouchedIfStored(d1: D1Database, projectId: string, id: string, touch: { at: string; instance_id: string; name: string | null; storedId: string }) {
  return touchedIfStored(d1, [touch.at, touch.instance_id, touch.name || null, new Date().toISOString(), projectId, id, touch.storedId]);
}

/**
 * `contactTouched` for a message we sent, as SQL text for a statement
 * written once, RETURNING `returning` (column names). Each argument an SQL
 * expression (`id`: a subquery, `confirmedContactIdSql`).
 */
export const contactTouchedSql = (p: { project_id: string; id: string; at: string; instance_id: string; onlyIf: string }, returning: readonly (keyof ContactRow)[]) =>
  `UPDATE contacts SET message_count = message_count + 1, last_message_at = max(coalesce(last_message_at, ''), ${p.at}), instance_id = ${p.instance_id}, updated_at = ${p.at}
   WHERE contacts.project_id = ${p.project_id} AND contacts.id = ${p.id} AND ${p.onlyIf}
   RETURNING ${returning.join(", ")}`;

/** The columns a client edits on a contact (reference 001's profile). */
export type Profile = Pick<
  ContactRow,
  | "name" | "name_manual" | "email" | "document" | "document_type" | "status"
  | "address_street" | "address_number" | "address_complement" | "address_district"
  | "address_city" | "address_state" | "address_zip" | "address_country"
>;

export function updateContact(
  db: Db,
  projectId: string,
  id: string,
  patch: Partial<Pick<ContactRow, "phone" | "jid" | "lid" | "message_count" | "last_message_at" | "instance_id" | "opted_out_at"> & Profile>,
) {
  return db
    .update(contacts)
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where(ofProject(contacts, projectId, id));
}

/** The contact's stored WhatsApp picture, and when it was last asked for. */
/** Sets a contact's avatar, in one round trip: the picture it had before (undefined: no such contact). */
export async function setContactAvatar(
  d1: D1Database,
  projectId: string,
  id: string,
  avatar: Pick<ContactRow, "avatar_media_id" | "avatar_checked_at">,
): Promise<Pick<ContactRow, "avatar_media_id"> | undefined> {
  const [before] = await d1.batch<Pick<ContactRow, "avatar_media_id">>([
    d1.prepare("SELECT avatar_media_id FROM contacts WHERE project_id = ?1 AND id = ?2").bind(projectId, id),
    d1
      .prepare("UPDATE contacts SET avatar_media_id = ?3, avatar_checked_at = ?4, updated_at = ?5 WHERE project_id = ?1 AND id = ?2")
      .bind(projectId, id, avatar.avatar_media_id, avatar.avatar_checked_at, new Date().toISOString()),
  ]);
  return before!.results[0];
}

export function deleteContact(db: Db, projectId: string, id: string) {
  return db.delete(contacts).where(ofProject(contacts, projectId, id));
}

/** The contact's privacy status (opt-out, block, reactivation): `opted_out_at` moves with it. */
export function setContactStatus(db: Db, projectId: string, id: string, change: Pick<ContactRow, "status" | "opted_out_at">) {
  return db
    .update(contacts)
    .set({ ...change, updated_at: new Date().toISOString() })
    .where(ofProject(contacts, projectId, id));
}

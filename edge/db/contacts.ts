/** Storage for `contacts`: one row per person the project talks to. Every query names the project. */
import { type SQL, and, count, eq, gte, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
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
  id: string,
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
  patch: Partial<Pick<ContactRow, "phone" | "jid" | "lid" | "message_count" | "last_message_at" | "instance_id"> & Profile>,
) {
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

// ------------------------------------------------------------ GET /contacts

/** What GET /contacts filters on, already checked and normalized by the service. */
export type ContactFilter = {
  /** `search`: an FTS5 query for the trigram index, and words too short for trigrams, matched with LIKE. */
  search?: { match: string | null; words: string[] };
  tags?: { keys: string[]; all: boolean };
  groups?: { keys: string[]; all: boolean };
  status?: ContactRow["status"][];
  city?: string;
  state?: string;
  country?: string;
  zip?: string;
  /** Any of these forms of the document. */
  documents?: string[];
  has_email?: boolean;
  instance_id?: string;
  /** ISO timestamps: `after` inclusive, `before` exclusive. */
  last_activity_after?: string;
  last_activity_before?: string;
  created_after?: string;
  created_before?: string;
};
export type ContactSort = "last_activity" | "name" | "created";

const nocase = (column: SQLiteColumn, value: string) => sql`${column} = ${value} COLLATE NOCASE`;

/** `contacts.id IN (...)`: the contacts linked to any (or all) of these dictionary keys. */
function labelled(links: typeof contactTags | typeof contactGroupMembers, linkColumn: SQLiteColumn, table: typeof tags | typeof contactGroups, projectId: string, f: { keys: string[]; all: boolean }) {
  const keys = [...new Set(f.keys)];
  const ids = sql`SELECT ${table.id} FROM ${table} WHERE ${table.project_id} = ${projectId} AND ${inList(table.key, keys)}`;
  const having = f.all ? sql` GROUP BY ${links.contact_id} HAVING count(*) = ${keys.length}` : sql``;
  return sql`${contacts.id} IN (SELECT ${links.contact_id} FROM ${links} WHERE ${linkColumn} IN (${ids})${having})`;
}

const escapeLike = (word: string) => word.replace(/[\\%_]/g, (c) => `\\${c}`);

function searched(search: NonNullable<ContactFilter["search"]>): SQL[] {
  const out: SQL[] = [];
  if (search.match !== null) {
    out.push(sql`${contacts}.rowid IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ${search.match})`);
  }
  // Trigrams need three characters: shorter words are looked for row by row, among what the rest left.
  for (const word of search.words) {
    const like = `%${escapeLike(word)}%`;
    const any = [contacts.name, contacts.phone, contacts.email, contacts.document].map((c) => sql`${c} LIKE ${like} ESCAPE '\\'`);
    out.push(sql`(${sql.join(any, sql` OR `)})`);
  }
  return out;
}

/** The WHERE of GET /contacts: every filter given, in the project. */
export function contactWhere(projectId: string, f: ContactFilter): SQL {
  const conds: (SQL | undefined)[] = [eq(contacts.project_id, projectId)];
  if (f.search) conds.push(...searched(f.search));
  if (f.tags) conds.push(labelled(contactTags, contactTags.tag_id, tags, projectId, f.tags));
  if (f.groups) conds.push(labelled(contactGroupMembers, contactGroupMembers.group_id, contactGroups, projectId, f.groups));
  if (f.status) conds.push(inArray(contacts.status, f.status));
  if (f.city !== undefined) conds.push(nocase(contacts.address_city, f.city));
  if (f.state !== undefined) conds.push(nocase(contacts.address_state, f.state));
  if (f.country !== undefined) conds.push(nocase(contacts.address_country, f.country));
  if (f.zip !== undefined) conds.push(eq(contacts.address_zip, f.zip));
  if (f.documents) conds.push(inArray(contacts.document, f.documents));
  if (f.has_email !== undefined) conds.push(f.has_email ? isNotNull(contacts.email) : isNull(contacts.email));
  if (f.instance_id !== undefined) conds.push(eq(contacts.instance_id, f.instance_id));
  if (f.last_activity_after) conds.push(gte(contacts.last_message_at, f.last_activity_after));
  if (f.last_activity_before) conds.push(lt(contacts.last_message_at, f.last_activity_before));
  if (f.created_after) conds.push(gte(contacts.created_at, f.created_after));
  if (f.created_before) conds.push(lt(contacts.created_at, f.created_before));
  return and(...conds)!;
}

/**
 * Each sort matches an index's order exactly (the rowid, last in every
 * index, breaks ties), so a page is read in order rather than sorted:
 * most recent activity first (never-messaged last, as SQLite puts NULLs
 * last when descending), names A-Z without regard to case (nameless last),
 * newest first.
 */
const orders: Record<ContactSort, SQL[]> = {
  last_activity: [sql`${contacts.last_message_at} DESC`, sql`${contacts}.rowid DESC`],
  name: [sql`(${contacts.name} IS NULL)`, sql`${contacts.name} COLLATE NOCASE`, sql`${contacts}.rowid`],
  created: [sql`${contacts.created_at} DESC`, sql`${contacts}.rowid DESC`],
};

/** The two statements behind a page of GET /contacts (exposed so the benchmark can show their plans). */
export function contactListQueries(db: Db, projectId: string, f: ContactFilter, sort: ContactSort, page: { limit: number; offset: number }) {
  const where = contactWhere(projectId, f);
  return {
    rows: db.select().from(contacts).where(where).orderBy(...orders[sort]).limit(page.limit).offset(page.offset),
    total: db.select({ n: count() }).from(contacts).where(where),
  };
}

export async function listContacts(db: Db, projectId: string, f: ContactFilter, sort: ContactSort, page: { limit: number; offset: number }) {
  const q = contactListQueries(db, projectId, f, sort, page);
  const [rows, [total]] = await db.batch([q.rows, q.total]);
  return { rows, total: total?.n ?? 0 };
}

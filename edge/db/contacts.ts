/** Storage for `contacts`: one row per person the project talks to. Every query names the project. */
import { type SQL, and, count, eq, getTableColumns, gte, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { QueryBuilder, SQLiteAsyncDialect, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { storedText } from "./messages.ts";
import { type Bound, inListOf, prepared } from "./reads.ts";
import { written } from "./written.ts";
import { type ContactRow, contactGroupMembers, contactGroups, contactTags, contacts, tags } from "./schema/index.ts";

export type NewContact = typeof contacts.$inferInsert;


/** Contacts holding any of these phones (`+<digits>`) or LIDs. */
export async function findContacts(db: Db, projectId: string, phones: string[], lids: string[]): Promise<ContactRow[]> {
  if (phones.length === 0 && lids.length === 0) return [];
  return contactsQuery(db, projectId, phones, lids);
}

/** The same lookup as a query, for a batch (with no phone and no LID it finds nothing). */
export const contactsQuery = (db: Db, projectId: string, phones: string[], lids: string[]) =>
  db.select().from(contacts).where(holding(projectId, phones, lids));

const holding = (projectId: string, phones: string[], lids: string[]) =>
  and(eq(contacts.project_id, projectId), sql`(${inList(contacts.phone, phones)} OR ${inList(contacts.lid, lids)})`);

/** What `holding` reads with its values as placeholders, for statements built once (db/reads.ts). */
export type HoldingValues = { project_id: string; phones: string; lids: string };
const holdingPlaced = and(eq(contacts.project_id, sql.placeholder("project_id")), sql`(${inListOf(contacts.phone, "phones")} OR ${inListOf(contacts.lid, "lids")})`);
export const holdingValues = (projectId: string, phones: string[], lids: string[]): HoldingValues => ({
  project_id: projectId,
  phones: JSON.stringify(phones),
  lids: JSON.stringify(lids),
});

const statusesRead = prepared<Pick<ContactRow, "status">, HoldingValues>(new QueryBuilder().select({ status: contacts.status }).from(contacts).where(holdingPlaced));

/** The statuses of the contacts `findContacts` finds, as a read for a batch (db/reads.ts): all a send's refusal needs. */
export const contactStatusesRead = (d1: D1Database, projectId: string, phones: string[], lids: string[]) =>
  statusesRead(d1, holdingValues(projectId, phones, lids));

/** The ids of the contacts `findContacts` finds, as a subquery with placeholders (HoldingValues), for a read built once. */
export const contactIdsPlaced = new QueryBuilder().select({ id: contacts.id }).from(contacts).where(holdingPlaced);

const contactsRead = prepared<Omit<ContactRow, "name_manual"> & { name_manual: number }, HoldingValues>(
  new QueryBuilder().select().from(contacts).where(holdingPlaced),
);

/** `findContacts` as a read for a batch (db/reads.ts), its text built once: the receive path looks a customer up for every message. */
export const contactsReadOf = (d1: D1Database, projectId: string, phones: string[], lids: string[]) => contactsRead(d1, holdingValues(projectId, phones, lids));

/** A contact row as D1 gives it (booleans as 0/1), as drizzle would have given it. */
export const contactOfRead = (row: Omit<ContactRow, "name_manual"> & { name_manual: number }): ContactRow => ({ ...row, name_manual: Boolean(row.name_manual) });

/**
 * As a subquery: the id of the one contact holding any of these phones,
 * if exactly one does and WhatsApp has confirmed its phone (its `jid`);
 * else NULL. What identity.ts would find for a phone JID without writing.
 * SQL text for a statement written once; each argument an SQL expression
 * (`phones`: a JSON list).
 */
export const confirmedContactIdSql = (projectId: string, phones: string) =>
  `(SELECT CASE WHEN count(*) = 1 AND max(contacts.jid) IS NOT NULL THEN max(contacts.id) END FROM contacts WHERE contacts.project_id = ${projectId} AND contacts.phone IN (SELECT value FROM json_each(${phones})))`;

/** The contacts holding `condition` (written on `contacts`), as a SELECT for statement text written once. */
const holdersOf = (projectId: string, condition: string) => `SELECT id, phone, jid, lid FROM contacts WHERE contacts.project_id = ${projectId} AND ${condition}`;

/**
 * As a subquery: the id of the contact a received message's phone (its
 * forms, `phones`) and LID (`lid`, or NULL) name, when identity.ts would
 * take it as it is: exactly one contact holds either, it holds the phone as
 * WhatsApp confirmed it (its `jid`) and, given a LID, that LID, which
 * `pairKnown` (an SQL condition) says stands for the phone; else NULL.
 * SQL text for a statement written once; each argument an SQL expression.
 * A UNION of one lookup per unique index: for an OR of the two, SQLite's
 * planner walks neither partial index and scans the project's contacts.
 */
export const settledContactIdSql = (projectId: string, phones: string, lid: string, pairKnown: string) =>
  `(SELECT CASE WHEN count(*) = 1 AND max(c.jid) IS NOT NULL AND max(c.phone) IN (SELECT value FROM json_each(${phones}))
     AND (${lid} IS NULL OR (max(c.lid) = ${lid} AND ${pairKnown})) THEN max(c.id) END
   FROM (${holdersOf(projectId, `contacts.phone IN (SELECT value FROM json_each(${phones}))`)} UNION ${holdersOf(projectId, `contacts.lid = ${lid}`)}) c)`;

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

export async function findContact(db: Db, projectId: string, id: string): Promise<ContactRow | undefined> {
  return first(db.select().from(contacts).where(ofProject(contacts, projectId, id)).limit(1));
}

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

/** The tag keys and contact-group keys of these contacts (by contact id, keys sorted), in one statement. */
export async function contactKeys(db: Db, projectId: string, contactIds: string[]) {
  const out = { tags: new Map<string, string[]>(), groups: new Map<string, string[]>() };
  if (contactIds.length === 0) return out;
  const rows = await db.all<{ kind: "tags" | "groups"; contact_id: string; key: string }>(sql`
    SELECT 'tags' AS kind, ${contactTags.contact_id} AS contact_id, ${tags.key} AS key
      FROM ${contactTags} JOIN ${tags} ON ${tags.id} = ${contactTags.entry_id}
      WHERE ${contactTags.project_id} = ${projectId} AND ${inList(contactTags.contact_id, contactIds)}
    UNION ALL
    SELECT 'groups', ${contactGroupMembers.contact_id}, ${contactGroups.key}
      FROM ${contactGroupMembers} JOIN ${contactGroups} ON ${contactGroups.id} = ${contactGroupMembers.entry_id}
      WHERE ${contactGroupMembers.project_id} = ${projectId} AND ${inList(contactGroupMembers.contact_id, contactIds)}
    ORDER BY key`);
  for (const { kind, contact_id, key } of rows) {
    const list = out[kind].get(contact_id) ?? [];
    list.push(key);
    out[kind].set(contact_id, list);
  }
  return out;
}

/** The contact's privacy status (opt-out, block, reactivation): `opted_out_at` moves with it. */
export function setContactStatus(db: Db, projectId: string, id: string, change: Pick<ContactRow, "status" | "opted_out_at">) {
  return db
    .update(contacts)
    .set({ ...change, updated_at: new Date().toISOString() })
    .where(ofProject(contacts, projectId, id));
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

const nocase = (column: SQLiteColumn | SQL, value: string) => sql`${column} = ${value} COLLATE NOCASE`;
/** With `hide`, a unary `+` keeps SQLite from leading with this column's index (the value is unchanged). */
const indexed = (column: SQLiteColumn, hide: boolean) => (hide ? sql`+${column}` : sql`${column}`);

type KeyFilter = { keys: string[]; all: boolean };
const DICTIONARIES = {
  tags: { links: contactTags, column: contactTags.entry_id, table: tags },
  groups: { links: contactGroupMembers, column: contactGroupMembers.entry_id, table: contactGroups },
} as const;

/** The ids of the project's dictionary entries with these keys. */
function entryIds(kind: keyof typeof DICTIONARIES, projectId: string, keys: string[]) {
  const { table } = DICTIONARIES[kind];
  return sql`SELECT ${table.id} FROM ${table} WHERE ${table.project_id} = ${projectId} AND ${inList(table.key, keys)}`;
}

/** `contacts.id IN (...)`: the contacts linked to any (or all) of these dictionary keys. */
function linkedTo(kind: keyof typeof DICTIONARIES, projectId: string, f: KeyFilter) {
  const { links, column } = DICTIONARIES[kind];
  const keys = [...new Set(f.keys)];
  const having = f.all ? sql` GROUP BY ${links.contact_id} HAVING count(*) = ${keys.length}` : sql``;
  return sql`${contacts.id} IN (SELECT ${links.contact_id} FROM ${links} WHERE ${column} IN (${entryIds(kind, projectId, keys)})${having})`;
}

const escapeLike = (word: string) => word.replace(/[\\%_]/g, (c) => `\\${c}`);

function searched(search: NonNullable<ContactFilter["search"]>): SQL[] {
  const out: SQL[] = [];
  if (search.match !== null) {
    out.push(sql`${contacts}.rowid IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ${search.match})`);
  }
  // Trigrams need three characters: shorter words are looked for row by row, among what the rest left.
  // Every word in some column; the words travel as one parameter (D1 allows 100 per statement).
  if (search.words.length > 0) {
    const likes = JSON.stringify([...new Set(search.words)].map((word) => `%${escapeLike(word)}%`));
    const any = [contacts.name, contacts.phone, contacts.email, contacts.document].map((c) => sql`${c} LIKE w.value ESCAPE '\\'`);
    out.push(sql`NOT EXISTS (SELECT 1 FROM json_each(${likes}) AS w WHERE NOT coalesce(${sql.join(any, sql` OR `)}, 0))`);
  }
  return out;
}

/**
 * How a page of GET /contacts is read. D1 keeps no statistics for SQLite's
 * planner, which, left alone, walks the index that yields the sort order and
 * tests every row against the filters: fine when most rows pass, ruinous for
 * a narrow filter at 100,000 contacts. So the plan is chosen here:
 * - `walk`: no filter narrower than status, number, email, country or a time
 *   window: the page walks the sort's index; the total is counted apart.
 * - `links`: tags alone (or groups alone): the page walks the sort's index;
 *   the total is counted in the link table alone (links are per project).
 * - `lead`: a narrow filter (search, document, zip, city, state, or tags or groups
 *   with other filters): the matches are gathered once through the narrow
 *   filter's index (the broad ones kept from leading with a unary `+`; search
 *   leads through the FTS index, tags and groups through their link tables), counted,
 *   sorted, and the page read by rowid, in one statement.
 */
export type ListPlan = "walk" | "links" | "lead";

export function planOf(f: ContactFilter): ListPlan {
  if (f.search || f.documents || f.zip !== undefined || f.city !== undefined || f.state !== undefined) return "lead";
  const linked = (f.tags ? 1 : 0) + (f.groups ? 1 : 0);
  if (linked === 0) return "walk";
  const { tags: _t, groups: _g, ...rest } = f;
  return linked === 1 && Object.keys(rest).length === 0 ? "links" : "lead";
}

/** The WHERE of GET /contacts: every filter given, in the project; `plan` decides which columns may lead. */
export function contactWhere(projectId: string, f: ContactFilter, plan: ListPlan = "walk"): SQL {
  const lead = plan === "lead";
  // Search leads through the FTS index, and tags or groups through their links, when no column index can:
  // every column index starts with project_id, so hiding it leaves those.
  const placed = f.documents || f.zip !== undefined || f.city !== undefined || f.state !== undefined;
  const listLeads = lead && (f.search?.match != null || (!placed && !!(f.tags || f.groups)));
  const conds: (SQL | undefined)[] = [eq(indexed(contacts.project_id, listLeads), projectId)];
  if (f.search) conds.push(...searched(f.search));
  if (f.tags) conds.push(linkedTo("tags", projectId, f.tags));
  if (f.groups) conds.push(linkedTo("groups", projectId, f.groups));
  if (f.status) conds.push(inArray(indexed(contacts.status, lead), f.status));
  if (f.city !== undefined) conds.push(nocase(contacts.address_city, f.city));
  if (f.state !== undefined) conds.push(nocase(contacts.address_state, f.state));
  if (f.country !== undefined) conds.push(nocase(contacts.address_country, f.country));
  if (f.zip !== undefined) conds.push(eq(contacts.address_zip, f.zip));
  if (f.documents) conds.push(inArray(contacts.document, f.documents));
  if (f.has_email !== undefined) conds.push(f.has_email ? isNotNull(contacts.email) : isNull(contacts.email));
  if (f.instance_id !== undefined) conds.push(eq(indexed(contacts.instance_id, lead), f.instance_id));
  const activity = indexed(contacts.last_message_at, lead);
  const created = indexed(contacts.created_at, lead);
  if (f.last_activity_after) conds.push(gte(activity, f.last_activity_after));
  if (f.last_activity_before) conds.push(lt(activity, f.last_activity_before));
  if (f.created_after) conds.push(gte(created, f.created_after));
  if (f.created_before) conds.push(lt(created, f.created_before));
  return and(...conds)!;
}

/**
 * Each sort matches an index's order exactly (the rowid, last in every
 * index, breaks ties), so a walked page is read in order rather than sorted:
 * most recent activity first (never-messaged last, as SQLite puts NULLs
 * last when descending), names A-Z without regard to case (nameless last),
 * newest first. `keys`/`byKeys`: the same order over a `lead` plan's gathered rows.
 */
const orders: Record<ContactSort, { columns: SQL[]; keys: SQL; byKeys: SQL }> = {
  last_activity: {
    columns: [sql`${contacts.last_message_at} DESC`, sql`${contacts}.rowid DESC`],
    keys: sql`${contacts.last_message_at} AS k1, NULL AS k2`,
    byKeys: sql`k1 DESC, r DESC`,
  },
  name: {
    columns: [sql`(${contacts.name} IS NULL)`, sql`${contacts.name} COLLATE NOCASE`, sql`${contacts}.rowid`],
    keys: sql`(${contacts.name} IS NULL) AS k1, ${contacts.name} AS k2`,
    byKeys: sql`k1, k2 COLLATE NOCASE, r`,
  },
  created: {
    columns: [sql`${contacts.created_at} DESC`, sql`${contacts}.rowid DESC`],
    keys: sql`${contacts.created_at} AS k1, NULL AS k2`,
    byKeys: sql`k1 DESC, r DESC`,
  },
};

type Page = { limit: number; offset: number };
/** A statement the benchmark can print (and explain). */
export type Explainable = { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteAsyncDialect();
const explainable = (statement: SQL): Explainable => ({ toSQL: () => dialect.sqlToQuery(statement) });

/** Contacts the `lead` plan read, each with the total as `total`. */
function gathered(projectId: string, f: ContactFilter, sort: ContactSort, page: Page): SQL {
  const order = orders[sort];
  // Materialized: gathered once, then both counted and paged.
  return sql`WITH m AS MATERIALIZED (SELECT ${contacts}.rowid AS r, ${order.keys} FROM ${contacts} WHERE ${contactWhere(projectId, f, "lead")})
    SELECT ${contacts}.*, (SELECT count(*) FROM m) AS total FROM ${contacts}
    WHERE ${contacts}.rowid IN (SELECT r FROM m ORDER BY ${order.byKeys} LIMIT ${page.limit} OFFSET ${page.offset})
    ORDER BY ${sql.join(order.columns, sql`, `)}`;
}

/** The total of the `links` plan: contacts linked to the keys, counted in the link table. */
function linkedTotal(db: Db, projectId: string, kind: keyof typeof DICTIONARIES, f: KeyFilter) {
  const { links, column } = DICTIONARIES[kind];
  const keys = [...new Set(f.keys)];
  const linked = sql`${column} IN (${entryIds(kind, projectId, keys)})`;
  if (!f.all) return db.select({ n: sql<number>`count(DISTINCT ${links.contact_id})`.mapWith(Number) }).from(links).where(linked);
  const matched = db
    .select({ contact_id: links.contact_id })
    .from(links)
    .where(linked)
    .groupBy(links.contact_id)
    .having(sql`count(*) = ${keys.length}`)
    .as("matched");
  return db.select({ n: count() }).from(matched);
}

/** The statements behind a page of GET /contacts, by plan (exposed so the benchmark can show their plans). */
export function contactListQueries(db: Db, projectId: string, f: ContactFilter, sort: ContactSort, page: Page) {
  const plan = planOf(f);
  const where = contactWhere(projectId, f, plan);
  const walked = db.select().from(contacts).where(where).orderBy(...orders[sort].columns).limit(page.limit).offset(page.offset);
  const counted = db.select({ n: count() }).from(contacts).where(where);
  if (plan === "lead") return { plan, page: explainable(gathered(projectId, f, sort, page)), total: counted } as const;
  const keys = f.tags ? (["tags", f.tags] as const) : f.groups ? (["groups", f.groups] as const) : null;
  return { plan, page: walked, total: plan === "links" && keys ? linkedTotal(db, projectId, keys[0], keys[1]) : counted } as const;
}

const columns = Object.values(getTableColumns(contacts));

/** A row read with raw SQL, through the columns' own decoding (booleans). */
const decoded = (raw: Record<string, unknown>) =>
  Object.fromEntries(columns.map((c) => [c.name, raw[c.name] === null ? null : c.mapFromDriverValue(raw[c.name])])) as ContactRow;

export async function listContacts(db: Db, projectId: string, f: ContactFilter, sort: ContactSort, page: Page) {
  const q = contactListQueries(db, projectId, f, sort, page);
  if (q.plan === "lead") {
    const raw = await db.all<Record<string, unknown>>(gathered(projectId, f, sort, page));
    // A page past the end carries no total: count apart.
    const total = raw.length > 0 ? Number(raw[0]!.total) : page.offset === 0 ? 0 : ((await q.total)[0]?.n ?? 0);
    return { rows: raw.map(decoded), total };
  }
  const [rows, [total]] = await db.batch([q.page, q.total]);
  return { rows, total: Number(total?.n ?? 0) };
}

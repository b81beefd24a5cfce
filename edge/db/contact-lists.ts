/**
 * GET /contacts: what it filters on, the plan each set of filters is read
 * by (D1 gives SQLite's planner no statistics), and a page with its total.
 * Every query names the project. Only reads: `contacts` is written through
 * contact-writes.ts.
 */
import { type SQL, and, count, eq, getTableColumns, gte, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { SQLiteAsyncDialect, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { inList } from "./lists.ts";
import { type ContactRow, contactGroupMembers, contactGroups, contactTags, contacts, tags } from "./schema/index.ts";

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

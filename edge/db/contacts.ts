/**
 * Reads of `contacts`, one row per person the project talks to: a contact
 * by id, the contacts holding a phone or LID (as a query, as reads for a
 * batch, and as subqueries for statements written once), and their tag and
 * group keys. Every query names the project. Only reads: `contacts` is
 * written through contact-writes.ts; GET /contacts' pages: contact-lists.ts.
 */
import { and, eq, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { inListOf, prepared } from "./reads.ts";
import { type ContactRow, contactGroupMembers, contactGroups, contactTags, contacts, tags } from "./schema/index.ts";

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

export async function findContact(db: Db, projectId: string, id: string): Promise<ContactRow | undefined> {
  return first(db.select().from(contacts).where(ofProject(contacts, projectId, id)).limit(1));
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

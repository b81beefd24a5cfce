/** Storage for `contact_events`: the non-message half of a contact's timeline. Every query names the project. */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { rowsOf } from "./lists.ts";
import { type After, afterKey } from "./conversations.ts";
import { type ContactEventRow, contactEvents } from "./schema/index.ts";

export type NewContactEvent = typeof contactEvents.$inferInsert;

/** For a batch, with the change the events record; one statement however many events. */
export function insertContactEvents(db: Db, rows: NewContactEvent[]) {
  return db.insert(contactEvents).select(rowsOf(contactEvents, rows));
}

/** The contact's events, newest first, walking the (project, contact, created_at) index. */
export async function contactEventsPage(
  db: Db,
  projectId: string,
  contactId: string,
  opts: { limit: number; after?: After },
): Promise<ContactEventRow[]> {
  return db
    .select()
    .from(contactEvents)
    .where(
      and(
        eq(contactEvents.project_id, projectId),
        eq(contactEvents.contact_id, contactId),
        opts.after ? afterKey(contactEvents.created_at, contactEvents.id, opts.after) : undefined,
      ),
    )
    .orderBy(desc(contactEvents.created_at), desc(contactEvents.id))
    .limit(opts.limit);
}

/** Whether this received message already opted its contact out (a resend of it must not do it again). */
export async function optedOutBy(db: Db, projectId: string, contactId: string, messageId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: contactEvents.id })
    .from(contactEvents)
    .where(
      and(
        eq(contactEvents.project_id, projectId),
        eq(contactEvents.contact_id, contactId),
        eq(contactEvents.type, "opted_out"),
        sql`${contactEvents.payload} ->> '$.message_id' = ${messageId}`,
      ),
    )
    .limit(1);
  return row !== undefined;
}

/**
 * Owner of the `contacts` table: the only module that writes contact rows,
 * their status excepted (contact-status.ts owns that machine). A contact is
 * one person, keyed by phone (`+<digits>`, WhatsApp's form of it) when
 * known, else by LID. Who is who is identity.ts's to decide, what a client
 * may write is contact-profiles.ts's and contact-import.ts's, and a message
 * says how active a contact is; each of them calls here for the write.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { phoneFromJid } from "../../shared/jid.ts";
import { phoneVariants } from "./phone.ts";
import { type Db, db } from "../db/client.ts";
import {
  contactTouchedByReceivedSql,
  contactTouchedIfStored,
  type NewContact,
  type Profile,
  contactTouched,
  contactTouchedSql,
  deleteContact,
  contactInsertStatement,
  insertContact,
  insertContactIfNewSql,
  insertContactsFrom,
  updateContact,
} from "../db/contact-writes.ts";
import { findContact, findContacts } from "../db/contacts.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { notFound } from "../errors.ts";

// ------------------------------------------------------------ finding

export async function contactOrThrow(env: Env, projectId: string, contactId: string): Promise<ContactRow> {
  const contact = await findContact(db(env.DB), projectId, contactId);
  if (!contact) throw notFound("contact");
  return contact;
}

/** The contact holding this phone in either Brazilian form, other than `except`. */
export async function contactOfPhone(d1: Db, projectId: string, phone: string, except?: string): Promise<ContactRow | undefined> {
  const rows = await findContacts(d1, projectId, phoneVariants(phone), []);
  return rows.find((r) => r.id !== except);
}

// ------------------------------------------------------------ what clients write

/** A new contact, unless its phone or LID has one already (a concurrent first message): the row if inserted. */
export const addContact = (d1: Db, row: NewContact) => insertContact(d1, row);

/** The same for a batch (identity.ts starts a new customer's conversation in it): its rows are the contact inserted, or none. */
export const addContactInBatch = (d1: D1Database, row: Parameters<typeof contactInsertStatement>[1]) => contactInsertStatement(d1, row);

/** A new contact unless `onlyIf` fails or one holds any of its phone's forms, as SQL text for a statement written once (sent-messages.ts files a first message so). */
export const addContactIfNewSql = (p: Parameters<typeof insertContactIfNewSql>[0]) => insertContactIfNewSql(p);

/** Many new contacts in one statement; a row whose phone has a contact is left out. Returns the ids inserted. */
export const addContacts = (d1: Db, rows: (NewContact & { id: string })[]) => insertContactsFrom(d1, rows);

/** What a client changes on a contact: its profile and, until WhatsApp confirms one, its phone. Never its status. */
export type ContactEdit = Partial<Omit<Profile, "status">> & { phone?: string };

/** A client's edit, for a batch. */
export const editContact = (d1: Db, projectId: string, id: string, edit: ContactEdit) => updateContact(d1, projectId, id, edit);

/** Removes the contact; its tags, groups and timeline events go with it (they cascade). For a batch. */
export const removeContactRow = (d1: Db, projectId: string, id: string) => deleteContact(d1, projectId, id);

// ------------------------------------------------------------ what messages write

/**
 * One more message with the contact: counters, the number that talked to
 * them last, and (inbound) the name they go by, which never replaces one a
 * client gave. `onlyIf` ties it to a message insert that may be a repeat.
 */
export const touchContact = (d1: Db, projectId: string, id: Parameters<typeof contactTouched>[2], touch: Parameters<typeof contactTouched>[3]) =>
  contactTouched(d1, projectId, id, touch);

/** The same for a received message's batch, as a statement whose text is fixed: only if the message `storedId` was stored. */
export const touchContactByReceived = (d1: D1Database, projectId: string, id: string, touch: Parameters<typeof contactTouchedIfStored>[3]) =>
  contactTouchedIfStored(d1, projectId, id, touch);

/** The same as SQL text for a statement written once, the contact found as it is written (received-filing.ts). */
export const touchContactByReceivedSql = (p: Parameters<typeof contactTouchedByReceivedSql>[0], returning?: string) => contactTouchedByReceivedSql(p, returning);

/** The same for a message we sent, as SQL text for a statement written once (the move to `sent`'s batch). */
export const touchContactSql = (p: Parameters<typeof contactTouchedSql>[0], returning: Parameters<typeof contactTouchedSql>[1]) => contactTouchedSql(p, returning);

// ------------------------------------------------------------ who is who (identity.ts decides)

/**
 * WhatsApp names the contact's number (one entered by hand is confirmed, a
 * LID-only one learns it): the contact takes WhatsApp's form of the phone
 * and its JID. The write, and the row as it is after it.
 */
export function takePhone(d1: Db, projectId: string, contact: ContactRow, pn: string): { write: BatchItem<"sqlite">; row: ContactRow } {
  const phone = { phone: phoneFromJid(pn), jid: pn };
  return { write: updateContact(d1, projectId, contact.id, phone), row: { ...contact, ...phone } };
}

/** The contact is known by this LID now (null: no longer by any), for a batch. */
export const setLid = (d1: Db, projectId: string, id: string, lid: string | null) => updateContact(d1, projectId, id, { lid });

const later = (a: string | null, b: string | null) => ((a ?? "") >= (b ?? "") ? a : b);

/**
 * Two contacts are one person: `from`, known by the LID, folds into `into`,
 * which takes the LID, a name if it had none, both counters and the number
 * that talked to the person last. For a batch, in this order: the LID is
 * unique per project, so it leaves the old row before the new one takes it.
 */
export function mergeContacts(d1: Db, projectId: string, from: ContactRow, into: ContactRow, lid: string): BatchItem<"sqlite">[] {
  const fromIsNewer = (from.last_message_at ?? "") > (into.last_message_at ?? "");
  return [
    deleteContact(d1, projectId, from.id),
    updateContact(d1, projectId, into.id, {
      lid,
      name: into.name ?? from.name,
      message_count: into.message_count + from.message_count,
      last_message_at: later(from.last_message_at, into.last_message_at),
      instance_id: fromIsNewer ? from.instance_id : into.instance_id,
    }),
  ];
}

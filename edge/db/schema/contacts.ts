/**
 * The people the project talks to: contacts, their timeline, the suppression
 * list, what each LID stands for, the CRM's tags and contact groups
 * (segments, not WhatsApp groups), each person's one conversation, and the
 * number each chat talks to.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAndUpdated, enumValues, timestamp } from "./columns.ts";
import { projectId, projectRow } from "./projects.ts";
import { ContactSource, ContactStatus, SuppressionSource } from "../../enums.ts";

/**
 * The people the project talks to. One row per person: keyed by phone
 * (`+<digits>`, WhatsApp's form of it) when known, else by LID; a LID-only
 * contact takes its phone, or merges into the phone's contact, once the
 * mapping is learned. The CRM (issue 5) adds its profile columns here.
 */
export const contacts = sqliteTable(
  "contacts",
  {
    ...projectRow(),
    phone: text("phone"),
    /** The phone JID, e.g. `5511999999999@s.whatsapp.net`. */
    jid: text("jid"),
    lid: text("lid"),
    name: text("name"),
    /** The name was given by a client (API, import): WhatsApp push names no longer replace it. */
    name_manual: integer("name_manual", { mode: "boolean" }).notNull().default(false),
    /** Unused: the API's `avatar_url` is a signed link to `avatar_media_id`, made when it is shown. */
    avatar_url: text("avatar_url"),
    /** The contact's WhatsApp picture in the private bucket (a `media` row); null: none, hidden, or not fetched yet. */
    avatar_media_id: text("avatar_media_id"),
    /** When a number last asked WhatsApp for the picture (services/contact-avatars.ts decides when it is stale). */
    avatar_checked_at: text("avatar_checked_at"),
    /** The number that last talked to this contact. */
    instance_id: text("instance_id"),
    message_count: integer("message_count").notNull().default(0),
    last_message_at: text("last_message_at"),
    source: text("source", { enum: enumValues(ContactSource) }).notNull(),
    // CRM profile (reference 001): each field its own column, so each can be filtered.
    /** Stored lowercase. */
    email: text("email"),
    document: text("document"),
    document_type: text("document_type"),
    address_street: text("address_street"),
    address_number: text("address_number"),
    address_complement: text("address_complement"),
    address_district: text("address_district"),
    address_city: text("address_city"),
    address_state: text("address_state"),
    address_zip: text("address_zip"),
    address_country: text("address_country"),
    status: text("status", { enum: enumValues(ContactStatus) })
      .notNull()
      .default("active"),
    opted_out_at: text("opted_out_at"),
    ...createdAndUpdated(),
  },
  (t) => [
    uniqueIndex("contacts_phone").on(t.project_id, t.phone).where(sql`phone IS NOT NULL`),
    uniqueIndex("contacts_lid").on(t.project_id, t.lid).where(sql`lid IS NOT NULL`),
    index("contacts_activity").on(t.project_id, t.last_message_at),
    // GET /contacts (reference 001): each filter a client is likely to lead with has an index
    // to start from, and each sort an index that yields rows in its order (the rowid breaks ties).
    index("contacts_status").on(t.project_id, t.status, t.last_message_at),
    index("contacts_instance").on(t.project_id, t.instance_id, t.last_message_at),
    index("contacts_created").on(t.project_id, t.created_at),
    // Names sort without regard to case, nameless contacts last.
    index("contacts_name").on(t.project_id, sql`(${t.name} IS NULL)`, sql`${t.name} COLLATE NOCASE`),
    // Places match without regard to case ("porto alegre" finds "Porto Alegre"). City is the usual
    // lead of a combined filter: the index also carries what the other filters and the sort read
    // (status, email, activity, id for the tag join), so a city's thousands of rows are never fetched.
    index("contacts_city").on(t.project_id, sql`${t.address_city} COLLATE NOCASE`, t.status, t.last_message_at, t.email, t.id),
    index("contacts_state").on(t.project_id, sql`${t.address_state} COLLATE NOCASE`),
    index("contacts_zip").on(t.project_id, t.address_zip),
    index("contacts_document").on(t.project_id, t.document),
  ],
);

/**
 * The non-message half of a contact's timeline: notes, opt-out/opt-in,
 * suppression, tag and group changes, status transitions, merges.
 */
export const contactEvents = sqliteTable(
  "contact_events",
  {
    ...projectRow(),
    contact_id: text("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    /** note, opted_out, opted_in, suppressed, tag_added, tag_removed, group_added, group_removed, status_changed, ... */
    type: text("type").notNull(),
    /** Who did it: api, contact (e.g. a keyword opt-out), system, admin. */
    actor: text("actor").notNull(),
    payload: text("payload", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    created_at: timestamp("created_at"),
  },
  (t) => [index("contact_events_contact").on(t.project_id, t.contact_id, t.created_at)],
);

/** Numbers the project must never message (LGPD): opt-outs, manual blocks, bounces. */
export const suppressions = sqliteTable(
  "suppressions",
  {
    project_id: projectId(),
    /** `+<digits>`, as contacts store it. */
    phone: text("phone").notNull(),
    /** optout, manual, bounce, ... */
    reason: text("reason").notNull(),
    source: text("source", { enum: enumValues(SuppressionSource) }).notNull(),
    /** Why, in the client's words (the `reason` of POST /contacts/{id}/optout|suppress, `note` of POST /suppressions). */
    note: text("note"),
    created_at: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.phone] })],
);

/** What WhatsApp told us a LID stands for, per project. */
export const lidMap = sqliteTable(
  "lid_map",
  {
    project_id: projectId(),
    /** `<digits>@lid`, without device. */
    lid: text("lid").notNull(),
    /** `<digits>@s.whatsapp.net`, without device. */
    pn: text("pn").notNull(),
    updated_at: timestamp("updated_at"),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.lid] }), index("lid_map_pn").on(t.project_id, t.pn)],
);

/**
 * A project's dictionary of keys (reference 001): tags and contact groups are
 * the same shape, each its own table. `key` is the stable slug clients
 * correlate on.
 */
const dictionary = (name: "tags" | "contact_groups") =>
  sqliteTable(
    name,
    {
      ...projectRow(),
      key: text("key").notNull(),
      name: text("name").notNull(),
      color: text("color"),
      ...createdAndUpdated(),
    },
    (t) => [uniqueIndex(`${name}_key`).on(t.project_id, t.key)],
  );

export const tags = dictionary("tags");
/** CRM segments ("contact groups"); not WhatsApp groups, which live at /groups. */
export const contactGroups = dictionary("contact_groups");

/**
 * Which contacts carry which entries of a dictionary: the same shape for
 * both, each its own table. `entry_id` is the column `<kind>_id`.
 */
const dictionaryLinks = (name: "contact_tags" | "contact_group_members", kind: "tag" | "group", entries: typeof tags) =>
  sqliteTable(
    name,
    {
      project_id: projectId(),
      contact_id: text("contact_id")
        .notNull()
        .references(() => contacts.id, { onDelete: "cascade" }),
      entry_id: text(`${kind}_id`)
        .notNull()
        .references(() => entries.id, { onDelete: "cascade" }),
      created_at: timestamp("created_at"),
    },
    (t) => [primaryKey({ columns: [t.contact_id, t.entry_id] }), index(`${name}_${kind}`).on(t.entry_id, t.contact_id)],
  );

export const contactTags = dictionaryLinks("contact_tags", "tag", tags);
export const contactGroupMembers = dictionaryLinks("contact_group_members", "group", contactGroups);

/** One conversation per contact across all numbers (reference 000/002). */
export const conversations = sqliteTable(
  "conversations",
  {
    ...projectRow(),
    contact_id: text("contact_id").notNull(),
    /** The canonical chat: the phone JID when known, else the LID. Messages carry the same value. */
    chat_jid: text("chat_jid").notNull(),
    /** The number the contact talks to now (its sticky number). */
    instance_id: text("instance_id"),
    last_message_id: text("last_message_id"),
    last_message_at: text("last_message_at"),
    /** The customer's last message: the 24-hour window runs from here (reference 004). */
    last_inbound_at: text("last_inbound_at"),
    unread_count: integer("unread_count").notNull().default(0),
    ...createdAndUpdated(),
  },
  (t) => [
    uniqueIndex("conversations_chat").on(t.project_id, t.chat_jid),
    uniqueIndex("conversations_contact").on(t.project_id, t.contact_id),
    index("conversations_recent").on(t.project_id, t.last_message_at),
    index("conversations_instance").on(t.project_id, t.instance_id, t.last_message_at),
  ],
);

/**
 * Which number talks to a chat (its sticky number, reference 000): the
 * accept reads it in its batch, a received 1:1 message moves it. Keyed by
 * chat, not contact: a first send knows only the JID. The migration makes it
 * WITHOUT ROWID (drizzle cannot say so): one seek reads the row in place.
 */
export const chatNumbers = sqliteTable(
  "chat_numbers",
  {
    project_id: projectId(),
    chat_jid: text("chat_jid").notNull(),
    instance_id: text("instance_id").notNull(),
    updated_at: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.chat_jid] })],
);

export type ContactRow = typeof contacts.$inferSelect;
export type ContactEventRow = typeof contactEvents.$inferSelect;
export type SuppressionRow = typeof suppressions.$inferSelect;
export type TagRow = typeof tags.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;

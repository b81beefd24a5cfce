/** The people the project talks to: contacts, their timeline, the suppression list, and what each LID stands for. */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { timestamp } from "./columns.ts";
import { projects } from "./projects.ts";

/**
 * The people the project talks to. One row per person: keyed by phone
 * (`+<digits>`, WhatsApp's form of it) when known, else by LID; a LID-only
 * contact takes its phone, or merges into the phone's contact, once the
 * mapping is learned. The CRM (issue 5) adds its profile columns here.
 */
export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    phone: text("phone"),
    /** The phone JID, e.g. `5511999999999@s.whatsapp.net`. */
    jid: text("jid"),
    lid: text("lid"),
    name: text("name"),
    /** The name was given by a client (API, import): WhatsApp push names no longer replace it. */
    name_manual: integer("name_manual", { mode: "boolean" }).notNull().default(false),
    avatar_url: text("avatar_url"),
    /** The number that last talked to this contact. */
    instance_id: text("instance_id"),
    message_count: integer("message_count").notNull().default(0),
    last_message_at: text("last_message_at"),
    source: text("source", { enum: ["inbound", "outbound", "api", "import", "widget"] }).notNull(),
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
    status: text("status", { enum: ["active", "pending_validation", "opted_out", "blocked", "unreachable"] })
      .notNull()
      .default("active"),
    opted_out_at: text("opted_out_at"),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
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
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
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
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** `+<digits>`, as contacts store it. */
    phone: text("phone").notNull(),
    /** optout, manual, bounce, ... */
    reason: text("reason").notNull(),
    /** api, admin, contact, system. */
    source: text("source").notNull(),
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
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** `<digits>@lid`, without device. */
    lid: text("lid").notNull(),
    /** `<digits>@s.whatsapp.net`, without device. */
    pn: text("pn").notNull(),
    updated_at: timestamp("updated_at"),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.lid] }), index("lid_map_pn").on(t.project_id, t.pn)],
);

export type ContactRow = typeof contacts.$inferSelect;
export type ContactEventRow = typeof contactEvents.$inferSelect;
export type SuppressionRow = typeof suppressions.$inferSelect;

/**
 * The D1 schema. drizzle-kit generates `migrations/` from this file:
 * change it here, then `npm run db:generate`.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { DisconnectReason, InstanceState } from "../../shared/protocol.ts";
import { ContactSource, ContactStatus, DeliveryStatus, MessageDirection, StoredMessageStatus, Strategy, SuppressionSource, WebhookKind } from "../enums.ts";

/** A zod enum's values as the non-empty tuple drizzle's `enum` wants: one list for both. */
const enumValues = <T extends string>(e: { options: readonly T[] }) => e.options as [T, ...T[]];

const timestamp = (name: string) =>
  text(name)
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`);

export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  created_at: timestamp("created_at"),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** The first characters of the key, to tell keys apart; never enough to use one. */
    prefix: text("prefix").notNull(),
    /** SHA-256 of the whole key: keys are long and random, so a fast hash is enough. */
    key_hash: text("key_hash").notNull(),
    created_at: timestamp("created_at"),
    revoked_at: text("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.key_hash), index("api_keys_project").on(t.project_id)],
);

export const instances = sqliteTable(
  "instances",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    proxy_url: text("proxy_url"),
    state: text("state", { enum: enumValues(InstanceState) }).notNull().default("connecting"),
    reason: text("reason", { enum: enumValues(DisconnectReason) }),
    jid: text("jid"),
    lid: text("lid"),
    phone: text("phone"),
    push_name: text("push_name"),
    last_close_code: integer("last_close_code"),
    last_close_at: text("last_close_at"),
    /** The fleet process holding the lease, or null when none does. */
    fleet_id: text("fleet_id"),
    /** 0-100, kept by the instance's Durable Object; below the project's threshold it leaves rotation. */
    health: integer("health").notNull().default(100),
    /** When the number first connected: warming counts its days from here. */
    first_connected_at: text("first_connected_at"),
    /** Times the fleet found the number's WhatsApp socket silent (no frames, no pongs) and replaced it. */
    dead_socket_reconnects: integer("dead_socket_reconnects").notNull().default(0),
    /** Sends on `sent_day` (UTC date), for caps, warming and least_used. */
    sent_today: integer("sent_today").notNull().default(0),
    sent_day: text("sent_day"),
    last_sent_at: text("last_sent_at"),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [index("instances_project").on(t.project_id, t.created_at)],
);

/** Per-project settings as one JSON document (validated by the settings service), plus the rotation cursor. */
export const projectSettings = sqliteTable("project_settings", {
  project_id: text("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  settings: text("settings", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  rr_cursor: integer("rr_cursor").notNull().default(0),
  updated_at: timestamp("updated_at"),
});

export const pools = sqliteTable(
  "pools",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    strategy: text("strategy", { enum: enumValues(Strategy) }).notNull(),
    rr_cursor: integer("rr_cursor").notNull().default(0),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [index("pools_project").on(t.project_id, t.created_at)],
);

export const poolMembers = sqliteTable(
  "pool_members",
  {
    pool_id: text("pool_id")
      .notNull()
      .references(() => pools.id, { onDelete: "cascade" }),
    instance_id: text("instance_id")
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.pool_id, t.instance_id] }), index("pool_members_instance").on(t.instance_id)],
);

/** What WhatsApp said a phone number is (or is not), so repeated sends do not ask again. */
export const recipients = sqliteTable(
  "recipients",
  {
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** E.164 as the client wrote it, normalized. */
    phone: text("phone").notNull(),
    /** Null: not on WhatsApp. */
    jid: text("jid"),
    checked_at: timestamp("checked_at"),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.phone] })],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    instance_id: text("instance_id").notNull(),
    chat_jid: text("chat_jid").notNull(),
    direction: text("direction", { enum: enumValues(MessageDirection) }).notNull().default("outbound"),
    type: text("type").notNull(),
    /** The request as sent, minus secrets (an OTP keeps only its masked code). */
    content: text("content", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    /** Outbound: queued -> sent -> delivered -> read/played, or failed. Inbound: received. */
    status: text("status", { enum: enumValues(StoredMessageStatus) }).notNull(),
    reason: text("reason"),
    reference: text("reference"),
    idempotency_key: text("idempotency_key"),
    /** What the request under `idempotency_key` was (a hash, see services/idempotency.ts): a reuse for another request is refused. */
    idempotency_fingerprint: text("idempotency_fingerprint"),
    /** The WhatsApp id (of the last part, for multi-part sends like OTP), chosen before the first attempt. */
    wa_message_id: text("wa_message_id"),
    wa_message_ids: text("wa_message_ids", { mode: "json" }).$type<string[]>(),
    tags: text("tags", { mode: "json" }).$type<string[]>(),
    groups: text("groups", { mode: "json" }).$type<string[]>(),
    /** Polls: base64 secret needed to decrypt votes. */
    message_secret: text("message_secret"),
    /** Polls: the creation message as WhatsApp got it (BufferJSON), to resolve vote hashes. */
    poll_message: text("poll_message"),
    sent_at: text("sent_at"),
    /** The customer (contacts) and their one conversation across all numbers; set once known. */
    contact_id: text("contact_id"),
    conversation_id: text("conversation_id"),
    /** Inbound: who wrote it (the participant in groups), as WhatsApp named them. */
    sender_jid: text("sender_jid"),
    /** The WhatsApp id this message replies or reacts to. */
    quoted_id: text("quoted_id"),
    /** A received file in the private bucket (media table). */
    media_id: text("media_id"),
    /** Inbound only: written from the number's own phone app rather than by the customer. */
    from_me: integer("from_me", { mode: "boolean" }).notNull().default(false),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [
    index("messages_project").on(t.project_id, t.created_at),
    index("messages_wa").on(t.project_id, t.wa_message_id),
    // The same WhatsApp message received twice (offline replay, fleet restart) is stored once.
    uniqueIndex("messages_inbound_wa")
      .on(t.project_id, t.instance_id, t.wa_message_id)
      .where(sql`direction = 'inbound'`),
    index("messages_chat").on(t.project_id, t.chat_jid, t.created_at),
    // A conversation's history, newest first (GET /conversations/{jid}/messages).
    index("messages_conversation").on(t.project_id, t.conversation_id, t.created_at),
    uniqueIndex("messages_idempotency")
      .on(t.project_id, t.idempotency_key)
      .where(sql`idempotency_key IS NOT NULL`),
  ],
);

export const messageStatuses = sqliteTable(
  "message_statuses",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    message_id: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    status: text("status").notNull(),
    reason: text("reason"),
    at: timestamp("at"),
  },
  (t) => [index("message_statuses_message").on(t.message_id, t.id)],
);

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
 * A project's label dictionary (reference 001): tags and contact groups are
 * the same shape, each its own table. `key` is the stable slug clients
 * correlate on.
 */
const labelDictionary = (name: "tags" | "contact_groups") =>
  sqliteTable(
    name,
    {
      id: text("id").primaryKey(),
      project_id: text("project_id")
        .notNull()
        .references(() => projects.id, { onDelete: "cascade" }),
      key: text("key").notNull(),
      name: text("name").notNull(),
      color: text("color"),
      created_at: timestamp("created_at"),
      updated_at: timestamp("updated_at"),
    },
    (t) => [uniqueIndex(`${name}_key`).on(t.project_id, t.key)],
  );

export const tags = labelDictionary("tags");
/** CRM segments ("contact groups"); not WhatsApp groups, which live at /groups. */
export const contactGroups = labelDictionary("contact_groups");

export const contactTags = sqliteTable(
  "contact_tags",
  {
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    contact_id: text("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    tag_id: text("tag_id")
      .notNull()
      .references(() => tags.id, { onDelete: "cascade" }),
    created_at: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.contact_id, t.tag_id] }), index("contact_tags_tag").on(t.tag_id, t.contact_id)],
);

export const contactGroupMembers = sqliteTable(
  "contact_group_members",
  {
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    contact_id: text("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    group_id: text("group_id")
      .notNull()
      .references(() => contactGroups.id, { onDelete: "cascade" }),
    created_at: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.contact_id, t.group_id] }), index("contact_group_members_group").on(t.group_id, t.contact_id)],
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
    source: text("source", { enum: enumValues(SuppressionSource) }).notNull(),
    /** Why, in the client's words (the `reason` of POST /contacts/{id}/optout|suppress, `note` of POST /suppressions). */
    note: text("note"),
    created_at: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.phone] })],
);

/** One conversation per contact across all numbers (reference 000/002). */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
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
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [
    uniqueIndex("conversations_chat").on(t.project_id, t.chat_jid),
    uniqueIndex("conversations_contact").on(t.project_id, t.contact_id),
    index("conversations_recent").on(t.project_id, t.last_message_at),
    index("conversations_instance").on(t.project_id, t.instance_id, t.last_message_at),
  ],
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

/** Received files in the private bucket. Outbound files are keyed by message and need no row. */
export const media = sqliteTable(
  "media",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    instance_id: text("instance_id").notNull(),
    r2_key: text("r2_key").notNull(),
    mime_type: text("mime_type").notNull(),
    filename: text("filename"),
    size: integer("size").notNull(),
    created_at: timestamp("created_at"),
  },
  (t) => [index("media_project").on(t.project_id, t.created_at)],
);

/** Where a project's events go. The secret is sealed (it must be read back to sign). */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    /** Filters: exact names or wildcards (`message.*`, `*`). */
    events: text("events", { mode: "json" }).notNull().$type<string[]>(),
    description: text("description"),
    secret_sealed: text("secret_sealed").notNull(),
    /** `alert`: the project's alert URL (settings), which gets instance drops only. */
    kind: text("kind", { enum: enumValues(WebhookKind) }).notNull().default("webhook"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabled_reason: text("disabled_reason"),
    /** Set by the first failure after a success; cleared by the next success. */
    failing_since: text("failing_since"),
    last_success_at: text("last_success_at"),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [index("webhooks_project").on(t.project_id, t.created_at)],
);

/** One event for one webhook: retried through the queue until delivered or dead. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    project_id: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    webhook_id: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    /** The event's id: the `webhook-id` header, the same on every retry. */
    event_id: text("event_id").notNull(),
    event_type: text("event_type").notNull(),
    /** The event as JSON (media URLs are signed afresh at each attempt). */
    body: text("body").notNull(),
    status: text("status", { enum: enumValues(DeliveryStatus) }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    last_status_code: integer("last_status_code"),
    last_error: text("last_error"),
    next_attempt_at: text("next_attempt_at"),
    delivered_at: text("delivered_at"),
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event").on(t.webhook_id, t.event_id),
    index("webhook_deliveries_list").on(t.project_id, t.webhook_id, t.created_at),
  ],
);

export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    delivery_id: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    /** Null when no HTTP answer came (refused, timeout). */
    status_code: integer("status_code"),
    error: text("error"),
    duration_ms: integer("duration_ms").notNull(),
    at: timestamp("at"),
  },
  (t) => [index("webhook_attempts_delivery").on(t.delivery_id, t.id)],
);

/**
 * Files clients sent (R2 `out/...`) whose message reached a final status
 * (sent or failed): the file is deleted once `delete_after` passes.
 */
export const outboundMediaExpiry = sqliteTable(
  "outbound_media_expiry",
  {
    r2_key: text("r2_key").primaryKey(),
    // No cascade: a deleted project's files still go when their time comes.
    project_id: text("project_id").notNull(),
    message_id: text("message_id").notNull(),
    delete_after: text("delete_after").notNull(),
  },
  (t) => [index("outbound_media_expiry_due").on(t.delete_after)],
);

export type ContactRow = typeof contacts.$inferSelect;
export type TagRow = typeof tags.$inferSelect;
export type ContactGroupRow = typeof contactGroups.$inferSelect;
export type ContactEventRow = typeof contactEvents.$inferSelect;
export type SuppressionRow = typeof suppressions.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
export type MediaRow = typeof media.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type PoolRow = typeof pools.$inferSelect;

export type InstanceRow = typeof instances.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/**
 * Messages, sent and received, with their status history; what WhatsApp said
 * each phone is; received files, and when the files clients sent may go.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAndUpdated, enumValues, timestamp } from "./columns.ts";
import { projectId, projectRow } from "./projects.ts";
import { MessageActor, MessageDirection, StoredMessageStatus } from "../../enums.ts";

/** What WhatsApp said a phone number is (or is not), so repeated sends do not ask again. */
export const recipients = sqliteTable(
  "recipients",
  {
    project_id: projectId(),
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
    ...projectRow(),
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
    /** When its body (a text, a caption) was last edited; its earlier bodies are in message_edits. */
    edited_at: text("edited_at"),
    /** Received only: when the number read it (its WhatsApp read receipt was queued on the number's object); null while unread. */
    read_at: text("read_at"),
    ...createdAndUpdated(),
  },
  (t) => [
    index("messages_project").on(t.project_id, t.created_at),
    index("messages_wa").on(t.project_id, t.wa_message_id),
    // The same WhatsApp message received twice (offline replay, fleet restart) is stored once.
    uniqueIndex("messages_inbound_wa")
      .on(t.project_id, t.instance_id, t.wa_message_id)
      .where(sql`direction = 'inbound'`),
    index("messages_chat").on(t.project_id, t.chat_jid, t.created_at),
    // GET /messages?status= (a message still queued) and ?reference=, newest first.
    index("messages_status").on(t.project_id, t.status, t.created_at),
    index("messages_reference")
      .on(t.project_id, t.reference, t.created_at)
      .where(sql`reference IS NOT NULL`),
    // A conversation's history, newest first (GET /conversations/{jid}/messages).
    index("messages_conversation").on(t.project_id, t.conversation_id, t.created_at),
    // A conversation's received messages not read yet: the read receipts POST /conversations/{jid}/read sends.
    index("messages_unread")
      .on(t.project_id, t.conversation_id, t.created_at)
      .where(sql`direction = 'inbound' AND read_at IS NULL`),
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

/** A message's edits, oldest first: the body before and after each, and who made it. */
export const messageEdits = sqliteTable(
  "message_edits",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    message_id: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    previous_body: text("previous_body"),
    body: text("body").notNull(),
    by: text("by", { enum: enumValues(MessageActor) }).notNull(),
    /** The WhatsApp id of the edit itself, when WhatsApp reported it (a received edit's envelope): applied once. */
    wa_message_id: text("wa_message_id"),
    at: timestamp("at"),
  },
  (t) => [
    index("message_edits_message").on(t.message_id, t.id),
    uniqueIndex("message_edits_wa")
      .on(t.message_id, t.wa_message_id)
      .where(sql`wa_message_id IS NOT NULL`),
  ],
);

/** Received files in the private bucket. Outbound files are keyed by message and need no row. */
export const media = sqliteTable(
  "media",
  {
    ...projectRow(),
    instance_id: text("instance_id").notNull(),
    r2_key: text("r2_key").notNull(),
    mime_type: text("mime_type").notNull(),
    filename: text("filename"),
    size: integer("size").notNull(),
    created_at: timestamp("created_at"),
  },
  (t) => [index("media_project").on(t.project_id, t.created_at)],
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

export type MessageRow = typeof messages.$inferSelect;
export type MessageEditRow = typeof messageEdits.$inferSelect;
export type MediaRow = typeof media.$inferSelect;

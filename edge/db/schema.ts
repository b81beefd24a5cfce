/**
 * The D1 schema. drizzle-kit generates `migrations/` from this file:
 * change it here, then `npm run db:generate`.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
    state: text("state", { enum: ["qr_pending", "connecting", "connected", "disconnected"] })
      .notNull()
      .default("connecting"),
    reason: text("reason", { enum: ["transient", "logged_out", "banned"] }),
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
    strategy: text("strategy", { enum: ["round_robin", "least_used", "health_weighted"] }).notNull(),
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
    direction: text("direction", { enum: ["outbound", "inbound"] }).notNull().default("outbound"),
    type: text("type").notNull(),
    /** The request as sent, minus secrets (an OTP keeps only its masked code). */
    content: text("content", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    status: text("status", { enum: ["queued", "sent", "delivered", "read", "played", "failed"] }).notNull(),
    reason: text("reason"),
    reference: text("reference"),
    idempotency_key: text("idempotency_key"),
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
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [
    index("messages_project").on(t.project_id, t.created_at),
    index("messages_wa").on(t.project_id, t.wa_message_id),
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

export type MessageRow = typeof messages.$inferSelect;
export type PoolRow = typeof pools.$inferSelect;

export type InstanceRow = typeof instances.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

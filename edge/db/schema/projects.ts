/** A project: its API keys, its settings, its WhatsApp numbers and the pools they rotate in. */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { DisconnectReason, InstanceState } from "../../../shared/protocol.ts";
import { createdAndUpdated, enumValues, timestamp } from "./columns.ts";
import { Strategy } from "../../enums.ts";

export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  created_at: timestamp("created_at"),
  /**
   * Its chats may have their sticky number in a ContactAffinity object
   * (objects/affinity.ts), written before `chat_numbers` existed: true for
   * the projects the table found (the column's default), false for every
   * project created since (services/projects.ts), whose first sends then ask
   * no object.
   */
  legacy_chat_numbers: integer("legacy_chat_numbers", { mode: "boolean" }).notNull().default(true),
});

/** The project a row belongs to: it goes when its project does. */
export const projectId = () =>
  text("project_id")
    .notNull()
    .references(() => projects.id, { onDelete: "cascade" });

/** A row of a project's with an id of its own: the first two columns of most tables. */
export const projectRow = () => ({ id: text("id").primaryKey(), project_id: projectId() });

export const apiKeys = sqliteTable(
  "api_keys",
  {
    ...projectRow(),
    /** The first characters of the key, to tell keys apart; never enough to use one. */
    prefix: text("prefix").notNull(),
    /** SHA-256 of the whole key: keys are long and random, so a fast hash is enough. */
    key_hash: text("key_hash").notNull(),
    created_at: timestamp("created_at"),
    revoked_at: text("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.key_hash), index("api_keys_project").on(t.project_id)],
);

/**
 * Single-use tokens that let a browser open the project's event stream
 * (`POST /events/token`, then `GET /events?stream_token=`), where EventSource
 * cannot send the API key. Only a hash is kept; a token lives a minute.
 */
export const streamTokens = sqliteTable(
  "stream_tokens",
  {
    token_hash: text("token_hash").primaryKey(),
    project_id: projectId(),
    /** Unix milliseconds. */
    expires_at: integer("expires_at").notNull(),
  },
  (t) => [index("stream_tokens_project").on(t.project_id, t.expires_at)],
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

export const instances = sqliteTable(
  "instances",
  {
    ...projectRow(),
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
    ...createdAndUpdated(),
  },
  (t) => [index("instances_project").on(t.project_id, t.created_at)],
);

export const pools = sqliteTable(
  "pools",
  {
    ...projectRow(),
    name: text("name").notNull(),
    strategy: text("strategy", { enum: enumValues(Strategy) }).notNull(),
    rr_cursor: integer("rr_cursor").notNull().default(0),
    ...createdAndUpdated(),
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

export type InstanceRow = typeof instances.$inferSelect;

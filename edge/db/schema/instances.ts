/** The project's WhatsApp numbers and the pools they rotate in. */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { DisconnectReason, InstanceState } from "../../../shared/protocol.ts";
import { enumValues, timestamp } from "./columns.ts";
import { projects } from "./projects.ts";

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
export type InstanceRow = typeof instances.$inferSelect;

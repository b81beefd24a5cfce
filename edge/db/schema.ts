/**
 * The D1 schema. drizzle-kit generates `migrations/` from this file:
 * change it here, then `npm run db:generate`.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
    created_at: timestamp("created_at"),
    updated_at: timestamp("updated_at"),
  },
  (t) => [index("instances_project").on(t.project_id, t.created_at)],
);

export type InstanceRow = typeof instances.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Projects, their API keys and their settings. */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { timestamp } from "./columns.ts";

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

/** Per-project settings as one JSON document (validated by the settings service), plus the rotation cursor. */
export const projectSettings = sqliteTable("project_settings", {
  project_id: text("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  settings: text("settings", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  rr_cursor: integer("rr_cursor").notNull().default(0),
  updated_at: timestamp("updated_at"),
});

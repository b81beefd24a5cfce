/** Files: received ones in the private bucket, and when the files clients sent may go. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { timestamp } from "./columns.ts";
import { projects } from "./projects.ts";

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

export type MediaRow = typeof media.$inferSelect;

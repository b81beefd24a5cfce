/** One conversation per customer across the project's numbers. */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { timestamp } from "./columns.ts";
import { projects } from "./projects.ts";

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

export type ConversationRow = typeof conversations.$inferSelect;

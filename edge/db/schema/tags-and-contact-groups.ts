/** The CRM's tags and contact groups (segments, not WhatsApp groups), and their links to contacts. */
import { index, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { timestamp } from "./columns.ts";
import { contacts } from "./contacts.ts";
import { projects } from "./projects.ts";

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

export type TagRow = typeof tags.$inferSelect;

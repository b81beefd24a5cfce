/** Where a project's events go, and each delivery's attempts. */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAndUpdated, enumValues, timestamp } from "./columns.ts";
import { projectRow } from "./projects.ts";
import { DeliveryStatus, WebhookKind } from "../../enums.ts";

/** Where a project's events go. The secret is sealed (it must be read back to sign). */
export const webhooks = sqliteTable(
  "webhooks",
  {
    ...projectRow(),
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
    ...createdAndUpdated(),
  },
  (t) => [index("webhooks_project").on(t.project_id, t.created_at)],
);

/** One event for one webhook: retried through the queue until delivered or dead. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    ...projectRow(),
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
    ...createdAndUpdated(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event").on(t.webhook_id, t.event_id),
    index("webhook_deliveries_list").on(t.project_id, t.webhook_id, t.created_at),
    // The backlog (GET /admin/metrics) counts the few deliveries still open, not every one ever made.
    index("webhook_deliveries_backlog")
      .on(t.status, t.project_id)
      .where(sql`${t.status} IN ('pending', 'retrying')`),
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
    /** The start of a failed answer's body, so an operator sees why the endpoint refused it; null on success. */
    response_body: text("response_body"),
    duration_ms: integer("duration_ms").notNull(),
    at: timestamp("at"),
  },
  (t) => [index("webhook_attempts_delivery").on(t.delivery_id, t.id)],
);

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/**
 * What the operator's views read across every project (GET /admin/metrics,
 * /health): counts and per-number figures, no content. Reads only; each
 * query stays on an index so a scrape costs the same with a year of messages.
 */
import { count, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { instances, messages, projects, webhookDeliveries } from "./schema/index.ts";

/** Every number with what its object mirrors into its row. */
export function instanceFigures(db: Db) {
  return db.select({ id: instances.id, project_id: instances.project_id, state: instances.state, health: instances.health }).from(instances);
}

/** How many numbers are connected to WhatsApp now, over all projects. */
export async function connectedCount(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(instances).where(eq(instances.state, "connected"));
  return row?.n ?? 0;
}

/**
 * Messages accepted and not yet handed to WhatsApp, per number: the
 * `queued` rows. Project by project (CROSS JOIN keeps projects outside), so
 * each step is a search of `messages_status` rather than a scan of every
 * message.
 */
export function queuedPerInstance(db: Db) {
  return db.all<{ instance_id: string; project_id: string; n: number }>(sql`
    SELECT m.instance_id, m.project_id, count(*) AS n
    FROM ${projects} p CROSS JOIN ${messages} m ON m.project_id = p.id AND m.status = 'queued'
    GROUP BY m.instance_id, m.project_id`);
}

/**
 * Open webhook deliveries (`pending`, `retrying`) per project and status.
 * The condition is written out as the partial index `webhook_deliveries_backlog`
 * has it: SQLite uses such an index only for literals, never bound parameters.
 */
export function openDeliveries(db: Db) {
  return db
    .select({ project_id: webhookDeliveries.project_id, status: webhookDeliveries.status, n: count() })
    .from(webhookDeliveries)
    .where(sql`${webhookDeliveries.status} IN ('pending', 'retrying')`)
    .groupBy(webhookDeliveries.status, webhookDeliveries.project_id);
}

export async function projectIds(db: Db): Promise<string[]> {
  return (await db.select({ id: projects.id }).from(projects)).map((r) => r.id);
}

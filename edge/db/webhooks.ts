/** Storage for `webhooks`, `webhook_deliveries` and `webhook_attempts`. Every query names the project. */
import { type SQL, and, asc, desc, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { type Page, pageOf, paged } from "./pagination.ts";
import { type DeliveryRow, type WebhookRow, webhookAttempts, webhookDeliveries, webhooks } from "./schema/index.ts";

export type NewWebhook = typeof webhooks.$inferInsert;
export type WebhookPatch = Partial<
  Pick<WebhookRow, "url" | "events" | "description" | "enabled" | "disabled_reason" | "failing_since" | "secret_sealed">
>;
export type NewDelivery = Pick<DeliveryRow, "id" | "project_id" | "webhook_id" | "event_id" | "event_type" | "body">;

const now = () => new Date().toISOString();

export async function insertWebhook(db: Db, row: NewWebhook) {
  await db.insert(webhooks).values(row);
}

export async function findWebhook(db: Db, projectId: string, id: string): Promise<WebhookRow | undefined> {
  return first(db.select().from(webhooks).where(ofProject(webhooks, projectId, id)).limit(1));
}

export async function findAlertWebhook(db: Db, projectId: string): Promise<WebhookRow | undefined> {
  return first(db.select().from(webhooks).where(and(eq(webhooks.project_id, projectId), eq(webhooks.kind, "alert"))).limit(1));
}

export async function listWebhooks(db: Db, projectId: string, page: Page) {
  return pageOf(db, webhooks, eq(webhooks.project_id, projectId), [desc(webhooks.created_at), desc(webhooks.id)], page);
}

/** What the event hub needs to route events: the project's enabled endpoints and their filters. */
export async function enabledFilters(db: Db, projectId: string): Promise<{ id: string; events: string[] }[]> {
  return db
    .select({ id: webhooks.id, events: webhooks.events })
    .from(webhooks)
    .where(and(eq(webhooks.project_id, projectId), eq(webhooks.enabled, true)));
}

export async function updateWebhook(db: Db, projectId: string, id: string, patch: WebhookPatch): Promise<boolean> {
  const rows = await db
    .update(webhooks)
    .set({ ...patch, updated_at: now() })
    .where(ofProject(webhooks, projectId, id))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}

export async function deleteWebhook(db: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await db.delete(webhooks).where(ofProject(webhooks, projectId, id)).returning({ id: webhooks.id });
  return rows.length > 0;
}

/**
 * Deliveries for events the hub accepted, in one round trip. The same
 * (webhook, event) twice is kept once, so the hub may send a batch again
 * after a failure without doubling anything; a webhook deleted meanwhile
 * just gets no row (its queue message then finds nothing to do).
 */
export async function insertDeliveries(db: Db, rows: NewDelivery[]) {
  if (rows.length === 0) return;
  const at = now();
  // Written by hand: the hub runs this for every event it routes, and drizzle built this INSERT ... SELECT
  // afresh for each row. It selects from the webhook's own row: no row, no delivery.
  const insert = db.$client.prepare(
    `INSERT INTO webhook_deliveries (id, project_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at)
     SELECT ?1, project_id, id, ?2, ?3, ?4, 'pending', 0, ?5, ?5 FROM webhooks WHERE project_id = ?6 AND id = ?7
     ON CONFLICT DO NOTHING`,
  );
  await db.$client.batch(rows.map((r) => insert.bind(r.id, r.event_id, r.event_type, r.body, at, r.project_id, r.webhook_id)));
}

export type DeliveryPublic = Omit<DeliveryRow, "project_id" | "body"> & {
  history: { attempt: number; status_code: number | null; error: string | null; response_body: string | null; duration_ms: number; at: string }[];
};

/** A webhook's deliveries, newest first, each with its attempts in order. */
export async function listDeliveries(db: Db, projectId: string, webhookId: string, page: Page) {
  const where = and(eq(webhookDeliveries.project_id, projectId), eq(webhookDeliveries.webhook_id, webhookId));
  const order = [desc(webhookDeliveries.created_at), desc(webhookDeliveries.id)];
  const { data: rows, total } = await pageOf(db, webhookDeliveries, where, order, page);
  const history = new Map<string, DeliveryPublic["history"]>(rows.map((r) => [r.id, []]));
  if (rows.length > 0) {
    const attempts = await db
      .select()
      .from(webhookAttempts)
      .where(
        inList(
          webhookAttempts.delivery_id,
          rows.map((r) => r.id),
        ),
      )
      .orderBy(asc(webhookAttempts.id));
    for (const { id: _id, delivery_id, ...attempt } of attempts) history.get(delivery_id)?.push(attempt);
  }
  return paged(
    rows.map(({ project_id: _p, body: _b, ...row }) => ({ ...row, history: history.get(row.id) ?? [] })),
    total,
    page,
  );
}

export async function findDelivery(db: Db, projectId: string, webhookId: string, id: string) {
  const [row] = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.project_id, projectId), eq(webhookDeliveries.webhook_id, webhookId), eq(webhookDeliveries.id, id)),
    )
    .limit(1);
  return row;
}

/** A replay: the delivery goes back to pending; its attempts so far stay in its log. */
export async function reopenDelivery(db: Db, projectId: string, id: string) {
  await db
    .update(webhookDeliveries)
    .set({ status: "pending", next_attempt_at: null, updated_at: now() })
    .where(and(eq(webhookDeliveries.project_id, projectId), eq(webhookDeliveries.id, id)));
}

export type DeliveryJobRow = Pick<DeliveryRow, "id" | "project_id" | "event_id" | "body" | "status" | "attempts"> & {
  webhook: Pick<WebhookRow, "id" | "url" | "secret_sealed" | "enabled" | "failing_since">;
};

/** The deliveries a queue batch names, each with its endpoint, in one query. */
export async function deliveriesForJobs(db: Db, ids: string[]): Promise<Map<string, DeliveryJobRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({
      id: webhookDeliveries.id,
      project_id: webhookDeliveries.project_id,
      event_id: webhookDeliveries.event_id,
      body: webhookDeliveries.body,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      webhook: {
        id: webhooks.id,
        url: webhooks.url,
        secret_sealed: webhooks.secret_sealed,
        enabled: webhooks.enabled,
        failing_since: webhooks.failing_since,
      },
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, and(eq(webhooks.id, webhookDeliveries.webhook_id), eq(webhooks.project_id, webhookDeliveries.project_id)))
    .where(inList(webhookDeliveries.id, [...new Set(ids)]));
  return new Map(rows.map((r) => [r.id, r]));
}

/** What one attempt came to: an answer from the endpoint, or none. */
export type AttemptRecord = {
  delivery_id: string;
  webhook_id: string;
  attempt: number;
  ok: boolean;
  status_code: number | null;
  error: string | null;
  /** The start of a failed answer's body. */
  response_body: string | null;
  duration_ms: number;
  /** When the queue will try again (failures only). */
  next_attempt_at: string | null;
};

/**
 * A batch's attempts, in one round trip: the attempt log, each delivery's
 * state, and each endpoint's health (`failing_since` set by the first
 * failure after a success, cleared by the next success).
 */
export async function recordAttempts(db: Db, records: AttemptRecord[], count?: (ok: boolean, which: SQL) => BatchItem<"sqlite">) {
  if (records.length === 0) return;
  const at = now();
  const statements: BatchItem<"sqlite">[] = records.flatMap((r) => [
    db.insert(webhookAttempts).values({
      delivery_id: r.delivery_id,
      attempt: r.attempt,
      status_code: r.status_code,
      error: r.error,
      response_body: r.response_body,
      duration_ms: r.duration_ms,
      at,
    }),
    db
      .update(webhookDeliveries)
      .set({
        status: r.ok ? "delivered" : "retrying",
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        last_status_code: r.status_code,
        last_error: r.error,
        next_attempt_at: r.next_attempt_at,
        delivered_at: r.ok ? at : null,
        updated_at: at,
      })
      .where(eq(webhookDeliveries.id, r.delivery_id)),
    r.ok
      ? db.update(webhooks).set({ failing_since: null, last_success_at: at }).where(eq(webhooks.id, r.webhook_id))
      : db
          .update(webhooks)
          .set({ failing_since: sql`coalesce(${webhooks.failing_since}, ${at})` })
          .where(eq(webhooks.id, r.webhook_id)),
  ]);
  // The attempts' outcomes counted (services/metrics.ts): the ones that delivered, the ones to retry.
  for (const ok of [true, false]) {
    const ids = records.filter((r) => r.ok === ok).map((r) => r.delivery_id);
    if (count && ids.length > 0) statements.push(count(ok, inList(webhookDeliveries.id, ids)));
  }
  const [first, ...rest] = statements;
  await db.batch([first!, ...rest]);
}

/** Gives up on deliveries (dead letters, disabled endpoints); a delivered one stays delivered. */
export async function markDead(db: Db, ids: string[], reason?: string, count?: (which: SQL) => BatchItem<"sqlite">) {
  if (ids.length === 0) return;
  const update = db
    .update(webhookDeliveries)
    .set({ status: "dead", next_attempt_at: null, updated_at: now(), ...(reason ? { last_error: reason } : {}) })
    .where(and(inList(webhookDeliveries.id, ids), sql`${webhookDeliveries.status} <> 'delivered'`));
  // Counted first, as given up, those not dead already (a dead letter of a disabled endpoint's delivery is not a second failure).
  if (count) await db.batch([count(and(inList(webhookDeliveries.id, ids), sql`${webhookDeliveries.status} NOT IN ('delivered', 'dead')`)!), update]);
  else await update;
}

/** Turns off an endpoint that is still on; false if it was already off (another batch got there first). */
export async function disableWebhook(db: Db, projectId: string, id: string, reason: string): Promise<boolean> {
  const rows = await db
    .update(webhooks)
    .set({ enabled: false, disabled_reason: reason, updated_at: now() })
    .where(and(ofProject(webhooks, projectId, id), eq(webhooks.enabled, true)))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}

/** Storage for `webhooks`, `webhook_deliveries` and `webhook_attempts`. Every query names the project. */
import { and, asc, desc, eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { bucketStarts } from "./metrics.ts";
import { first, ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { type Page, pageOf, paged } from "./pagination.ts";
import { type Written, written } from "./written.ts";
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

/** What the event hub needs to route events and make their first attempts: the project's enabled endpoints, their filters. */
export async function enabledEndpoints(db: Db, projectId: string): Promise<(Endpoint & { events: string[] })[]> {
  return db
    .select({
      id: webhooks.id,
      events: webhooks.events,
      url: webhooks.url,
      secret_sealed: webhooks.secret_sealed,
      enabled: webhooks.enabled,
      failing_since: webhooks.failing_since,
    })
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
 * Deliveries too big to travel in their queue job (services/delivery-jobs.ts),
 * written by the hub before it queues them, in one round trip. The same
 * (webhook, event) twice is kept once, so the hub may send a batch again
 * after a failure without doubling anything; a webhook deleted meanwhile
 * just gets no row (its queue message then finds nothing to do): each row is
 * made from the webhook's own, scoped by project.
 *
 * SQL written by hand, not built by drizzle: the hub makes one for every
 * (event, endpoint), and building that INSERT ... SELECT was the largest
 * part of the hub's CPU (bench/profiles/hub-2026-12.md).
 */
export async function insertDeliveries(db: Db, rows: NewDelivery[]) {
  if (rows.length === 0) return;
  const at = now();
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

export type StoredDelivery = Pick<DeliveryRow, "id" | "project_id" | "event_id" | "body" | "status" | "attempts">;
export type Endpoint = Pick<WebhookRow, "id" | "url" | "secret_sealed" | "enabled" | "failing_since">;
export type DeliveryJobRow = StoredDelivery & { webhook: Endpoint };

/** A queue job as the consumer's read takes it: its delivery's id, and where a delivery it carries goes. */
export type JobKey = { id: string; project_id?: string; webhook_id?: string; event_id?: string };

/**
 * What a queue batch's jobs need, in one query whose text is fixed (the
 * consumer runs it for every batch): for each job, its endpoint as it is
 * now and its delivery's row if there is one (a job the queue hands over
 * again, a retry, a replay, a job by id). A job that carries its delivery
 * finds the row by (endpoint, event) too, so a second delivery of the same
 * event to the same endpoint is seen as the first one's. A job whose
 * endpoint is gone, or whose row is gone with no endpoint named, is left out.
 */
export async function deliveriesForJobs(db: Db, jobs: JobKey[]): Promise<Map<string, { webhook: Endpoint; delivery: StoredDelivery | null }>> {
  if (jobs.length === 0) return new Map();
  const keys = [...new Map(jobs.map((j) => [j.id, [j.id, j.webhook_id ?? null, j.project_id ?? null, j.event_id ?? null]])).values()];
  const { results } = await db.$client
    .prepare(
      `SELECT j.value ->> 0 AS job, d.id, d.project_id, d.event_id, d.body, d.status, d.attempts,
         w.id AS webhook_id, w.url, w.secret_sealed, w.enabled, w.failing_since
       FROM json_each(?1) j
       LEFT JOIN webhook_deliveries d ON d.id = j.value ->> 0 OR (d.webhook_id = j.value ->> 1 AND d.event_id = j.value ->> 3)
       JOIN webhooks w ON w.id = coalesce(d.webhook_id, j.value ->> 1) AND w.project_id = coalesce(d.project_id, j.value ->> 2)`,
    )
    .bind(JSON.stringify(keys))
    .all<
      { job: string; webhook_id: string; url: string; secret_sealed: string; enabled: number; failing_since: string | null } & {
        [K in keyof StoredDelivery]: StoredDelivery[K] | null;
      }
    >();
  const found = new Map<string, { webhook: Endpoint; delivery: StoredDelivery | null }>();
  for (const { job, webhook_id, url, secret_sealed, enabled, failing_since, id, project_id, event_id, body, status, attempts } of results) {
    const delivery = id === null ? null : ({ id, project_id, event_id, body, status, attempts } as StoredDelivery);
    // The job's own row first, if the same event's also matched.
    if (found.get(job)?.delivery?.id === job) continue;
    found.set(job, { webhook: { id: webhook_id, url, secret_sealed, enabled: Boolean(enabled), failing_since }, delivery });
  }
  return found;
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
 * What a delivery count (services/metrics.ts `countDeliveries`) is written
 * with, as SQL text: `rows`, the FROM and WHERE of the deliveries counted
 * (each once); what each adds to which outcome (0 or 1); the values holding
 * the hour and the day counted in.
 */
export type DeliveryCountSql = {
  rows: string;
  adds: Partial<Record<"webhooks_delivered" | "webhook_attempts_failed" | "webhooks_failed", string>>;
  hour: string;
  day: string;
};
/** A delivery count's text, given its parts. */
export type DeliveryCount = (parts: DeliveryCountSql) => string;

/**
 * The writes that record attempts (the consumer's, and the event hub's for
 * first attempts), each text fixed and written once (db/written.ts; a
 * count's once per counter): every delivery is recorded, and drizzle would
 * build each statement afresh. The rows travel as one JSON parameter (D1
 * allows 100 bound parameters per statement), so a batch of any size is the
 * same few statements. Values by role: ?1 the rows, ?2 the time, ?3 the hour
 * and ?4 the day counted in, ?5 a reason.
 */
// An attempt is logged only on its delivery's row: a first attempt from the hub whose row could not be made (its
// endpoint deleted meanwhile, or the event delivered before under another id) leaves no trace.
const ATTEMPT_LOG = written(
  `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, response_body, duration_ms, at)
   SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, ?2 FROM json_each(?1)
   WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = value ->> 0)`,
);
/**
 * ?1: [id, webhook id, project id, event id, event type, body, created at]
 * for each delivery a queue job carried (services/delivery-jobs.ts), made
 * pending here, in its first attempt's batch, for the statements after it
 * to record as they do any delivery; from the endpoint's own row, so one
 * deleted meanwhile gets none. A row already there stays as it is.
 */
const CREATE_CARRIED = written(
  `INSERT INTO webhook_deliveries (id, project_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at)
   SELECT r.value ->> 0, w.project_id, w.id, r.value ->> 3, r.value ->> 4, r.value ->> 5, 'pending', 0, r.value ->> 6, ?2
   FROM json_each(?1) r JOIN webhooks w ON w.id = r.value ->> 1 AND w.project_id = r.value ->> 2 WHERE true
   ON CONFLICT DO NOTHING`,
);
/** Bodies' UTF-16 units per CREATE_CARRIED: its one parameter stays well under D1's 2 MB a value. */
const CREATE_CHUNK_UNITS = 300_000;
/** ?1: [delivery id, ok (0/1), status code, error, next attempt at] for each attempt. */
const DELIVERY_STATES = written(
  `UPDATE webhook_deliveries SET status = CASE WHEN r.value ->> 1 THEN 'delivered' ELSE 'retrying' END, attempts = attempts + 1,
     last_status_code = r.value ->> 2, last_error = r.value ->> 3, next_attempt_at = r.value ->> 4,
     delivered_at = CASE WHEN r.value ->> 1 THEN ?2 END, updated_at = ?2
   FROM json_each(?1) r WHERE webhook_deliveries.id = r.value ->> 0`,
);
/** ?1: [webhook id, its last attempt ok, any attempt ok] for each endpoint. */
const ENDPOINT_HEALTH = written(
  `UPDATE webhooks SET failing_since = CASE WHEN h.value ->> 1 THEN NULL WHEN h.value ->> 2 THEN ?2 ELSE coalesce(failing_since, ?2) END,
     last_success_at = CASE WHEN h.value ->> 2 THEN ?2 ELSE last_success_at END
   FROM json_each(?1) h WHERE webhooks.id = h.value ->> 0`,
);
/** The deliveries DELIVERY_STATES' ?1 names, counted as delivered if an attempt of theirs in it did, as failed if one did not. */
const outcomeOf = (ok: boolean) =>
  `EXISTS (SELECT 1 FROM json_each(?1) r WHERE r.value ->> 0 = webhook_deliveries.id AND r.value ->> 1 = ${ok ? 1 : 0})`;
const ATTEMPTS_COUNTED: DeliveryCountSql = {
  rows: "FROM webhook_deliveries WHERE webhook_deliveries.id IN (SELECT value ->> 0 FROM json_each(?1))",
  adds: { webhooks_delivered: outcomeOf(true), webhook_attempts_failed: outcomeOf(false) },
  hour: "?3",
  day: "?4",
};
/** ?1: the ids given up. A delivered one stays delivered. */
const GIVE_UP = written(
  `UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL, updated_at = ?2, last_error = coalesce(?5, last_error)
   WHERE id IN (SELECT value FROM json_each(?1)) AND status <> 'delivered'`,
);
/** Counted first, as given up, those not dead already (a dead letter of a disabled endpoint's delivery is not a second failure). */
const GIVEN_UP_COUNTED: DeliveryCountSql = {
  rows: "FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?1)) AND status NOT IN ('delivered', 'dead')",
  adds: { webhooks_failed: "1" },
  hour: "?3",
  day: "?4",
};
/** Each count's statement, written on its first use. */
const counts = new WeakMap<DeliveryCount, Map<DeliveryCountSql, Written>>();
function counted(count: DeliveryCount, parts: DeliveryCountSql): Written {
  let texts = counts.get(count);
  if (!texts) counts.set(count, (texts = new Map()));
  let text = texts.get(parts);
  if (!text) texts.set(parts, (text = written(count(parts))));
  return text;
}

/** A delivery that came in its queue job, written by the batch that first records it. */
export type CarriedRow = NewDelivery & { created_at: string };

function createStatements(d1: D1Database, rows: CarriedRow[], at: string) {
  const chunks: CarriedRow[][] = [];
  let units = Infinity;
  for (const row of rows) {
    if (units + row.body.length > CREATE_CHUNK_UNITS) {
      chunks.push([]);
      units = 0;
    }
    chunks.at(-1)!.push(row);
    units += row.body.length;
  }
  return chunks.map((chunk) =>
    CREATE_CARRIED(d1, [JSON.stringify(chunk.map((r) => [r.id, r.webhook_id, r.project_id, r.event_id, r.event_type, r.body, r.created_at])), at]),
  );
}

function attemptStatements(d1: D1Database, records: AttemptRecord[], at: string, values: readonly unknown[], count?: DeliveryCount) {
  if (records.length === 0) return [];
  // An endpoint's attempts in a batch ran side by side: its health is what the last one says, after any success among them.
  const health = new Map<string, { last: boolean; any: boolean }>();
  for (const r of records) health.set(r.webhook_id, { last: r.ok, any: r.ok || (health.get(r.webhook_id)?.any ?? false) });
  const states = [JSON.stringify(records.map((r) => [r.delivery_id, r.ok ? 1 : 0, r.status_code, r.error, r.next_attempt_at])), at, ...values];
  return [
    ATTEMPT_LOG(d1, [JSON.stringify(records.map((r) => [r.delivery_id, r.attempt, r.status_code, r.error, r.response_body, r.duration_ms])), at]),
    DELIVERY_STATES(d1, states),
    ENDPOINT_HEALTH(d1, [JSON.stringify([...health].map(([id, h]) => [id, h.last ? 1 : 0, h.any ? 1 : 0])), at]),
    // The attempts' outcomes counted (services/metrics.ts): the ones that delivered, the ones to retry.
    ...(count ? [counted(count, ATTEMPTS_COUNTED)(d1, states)] : []),
  ];
}

function deadStatements(d1: D1Database, ids: string[], at: string, values: readonly unknown[], reason?: string, count?: DeliveryCount) {
  if (ids.length === 0) return [];
  const given = [JSON.stringify(ids), at, ...values, reason ?? null];
  return [...(count ? [counted(count, GIVEN_UP_COUNTED)(d1, given)] : []), GIVE_UP(d1, given)];
}

/** The values after ?2 of a batch counted now: the hour and the day. */
const countedAt = () => {
  const { hour, day } = bucketStarts();
  return [hour, day];
};

/**
 * A batch's attempts, in one round trip: the rows of deliveries that came
 * in their jobs (`created`, first), the attempt log, each delivery's state,
 * each endpoint's health (`failing_since` set by the first failure after a
 * success, cleared by the next success) and their counts; with the
 * deliveries of endpoints turned off meanwhile (`gone`), given up as
 * `markDead` does, in the same round trip.
 */
export async function recordAttempts(
  db: Db,
  records: AttemptRecord[],
  count?: DeliveryCount,
  gone: { ids: string[]; reason: string } = { ids: [], reason: "" },
  created: CarriedRow[] = [],
) {
  const d1 = db.$client;
  const at = now();
  const values = countedAt();
  const statements = [
    ...createStatements(d1, created, at),
    ...attemptStatements(d1, records, at, values, count),
    ...deadStatements(d1, gone.ids, at, values, gone.reason, count),
  ];
  if (statements.length > 0) await d1.batch(statements);
}

/** Gives up on deliveries (dead letters, disabled endpoints), creating those that came in their jobs (`created`); a delivered one stays delivered. */
export async function markDead(db: Db, ids: string[], reason?: string, count?: DeliveryCount, created: CarriedRow[] = []) {
  const at = now();
  const statements = [...createStatements(db.$client, created, at), ...deadStatements(db.$client, ids, at, countedAt(), reason, count)];
  if (statements.length > 0) await db.$client.batch(statements);
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

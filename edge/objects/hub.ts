/**
 * One project's events: the log SSE resumes from, the live SSE streams
 * (hub-streams.ts), and the start of every webhook delivery. One object per
 * project, or per share of its numbers when its events are sharded
 * (services/event-shards.ts; `hubOf(env, projectId, shard)`, stubs.ts), so
 * events get one order (the log's `seq`, which the SSE `id` is made of) and
 * many listeners cost one fan-out.
 *
 * Publishing, in one synchronous write to this object's SQLite: each event
 * goes into the log (once: the event id is unique), and each (event,
 * matching webhook) into a small outbox. That is what makes it durable, and
 * `publish` returns then. The deliveries leave after it, off the
 * publisher's path (hub-deliveries.ts): most get their first attempt from
 * here, straight to the endpoint, and the rest, and the retries, go through
 * the WEBHOOKS queue. If an attempt cannot be recorded, or D1 or the queue
 * fails, the outbox keeps the deliveries and an alarm queues them until
 * they leave, so nothing accepted is lost, even if the object dies mid-way
 * (the alarm is set before `publish` returns).
 *
 * Rows that left are done: remembered in memory (the alarm leaves them be)
 * and deleted in the next publish's transaction, not in a storage commit of
 * their own (one per hand-over, about one per received message at 60/s). A
 * hub that publishes nothing within DONE_LINGER_MS deletes them on its own,
 * in one statement, so an idle hub keeps no done rows for long. Done rows a
 * restart finds (an eviction or a crash within that time) are sent again by
 * the alarm, harmlessly: the consumer finds the delivery's row (by id, or by
 * webhook and event) and skips one already delivered
 * (services/webhook-delivery.ts). One not delivered yet (its endpoint
 * failing) gets a second job, so attempts beyond the schedule, all with the
 * same `webhook-id`: as after a crash between the queue send and the delete;
 * only the window is longer (seconds, not milliseconds).
 *
 * Retention: the log keeps 72 hours and at most 100,000 events, trimmed by
 * the alarm (hourly while events flow). A client resuming from an id older
 * than that gets an `event: gap` frame first, then what is left.
 *
 * It also counts what it logs, per type (`published`, which the trimming
 * never lowers; a hub made before it counts from then on): the operator's
 * `pombo_events_total` (GET /admin/metrics).
 */
import { DurableObject } from "cloudflare:workers";
import { db } from "../db/client.ts";
import { type Endpoint, enabledEndpoints } from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { type SealedEvent, matchesFilter } from "../services/events.ts";
import { HubDeliveries, type OutboxRow } from "./hub-deliveries.ts";
import { EventStreams, type Logged } from "./hub-streams.ts";
import { type SqlTableSpec, createTables } from "./sql-table.ts";

const RETENTION_MS = 72 * 3_600_000;
const MAX_EVENTS = 100_000;
const TRIM_EVERY_MS = 3_600_000;
/** The alarm re-sends outbox rows this old (younger ones belong to a publish still in flight). */
const RESEND_AFTER_MS = 10_000;
/** Backstop for a missed invalidation (another isolate's write): endpoints are re-read this often. */
const HOOKS_TTL_MS = 30_000;
/** How long done outbox rows wait for a publish to ride on before they are deleted on their own (see the header). */
const DONE_LINGER_MS = 2_000;

type Hooks = { list: (Endpoint & { events: string[] })[]; byId: Map<string, Endpoint> };

const TABLES: SqlTableSpec[] = [
  {
    name: "events",
    columns: `seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL`,
    indexes: { events_age: "created_at" },
  },
  /** (event, webhook) pairs whose delivery has not left yet. */
  {
    name: "outbox",
    columns: `delivery_id TEXT PRIMARY KEY,
      project_id TEXT NOT NULL,
      webhook_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      created_at INTEGER NOT NULL`,
  },
  /** How far the log was trimmed (`trimmed_through`). */
  { name: "meta", columns: "key TEXT PRIMARY KEY, value INTEGER NOT NULL" },
  /** Events logged per type, ever: a counter the log's trimming does not lower. */
  { name: "published", columns: "type TEXT PRIMARY KEY, count INTEGER NOT NULL" },
];

export class EventHub extends DurableObject<Env> {
  #sql: SqlStorage;
  #hooks: { hooks: Promise<Hooks>; until: number } | null = null;
  #streams: EventStreams;
  /** The alarm as last set by this instance; undefined until read. */
  #alarmAt: number | null | undefined;
  #deliveries: HubDeliveries;
  /** Outbox rows handed over, still to delete with the next write (see the header); the alarm leaves them be too. */
  #done = new Set<string>();
  #lingering: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    createTables(this.#sql, TABLES);
    this.#deliveries = new HubDeliveries(ctx, () => this.env, (rows) => this.#left(rows));
    this.#streams = new EventStreams(env, {
      newestSeq: () => this.#newestSeq(),
      trimmedThrough: () => this.#trimmedThrough(),
      after: (seq, limit) =>
        this.#sql.exec<Logged>("SELECT seq, type, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit).toArray(),
    });
  }

  /** Logs and streams these events and starts their deliveries; resolves once they are durable here (see the header). */
  async publish(projectId: string, events: SealedEvent[]): Promise<void> {
    const { list: hooks, byId } = await this.#routes(projectId);
    const now = Date.now();
    const logged: Logged[] = [];
    const outbox: OutboxRow[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const event of events) {
        const { body } = event;
        const [row] = this.#sql
          .exec<{ seq: number }>(
            "INSERT INTO events (id, type, body, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq",
            event.id,
            event.type,
            body,
            now,
          )
          .toArray();
        if (!row) continue; // published before: already logged and routed
        logged.push({ seq: row.seq, type: event.type, body });
        this.#sql.exec("INSERT INTO published (type, count) VALUES (?, 1) ON CONFLICT (type) DO UPDATE SET count = count + 1", event.type);
        for (const hook of hooks) {
          if (!matchesFilter(hook.events, event.type)) continue;
          const delivery: OutboxRow = {
            delivery_id: `dlv_${crypto.randomUUID().replaceAll("-", "")}`,
            project_id: projectId,
            webhook_id: hook.id,
            event_id: event.id,
            event_type: event.type,
            body,
          };
          this.#sql.exec(
            "INSERT INTO outbox (delivery_id, project_id, webhook_id, event_id, created_at) VALUES (?, ?, ?, ?, ?)",
            delivery.delivery_id,
            projectId,
            hook.id,
            event.id,
            now,
          );
          outbox.push(delivery);
        }
      }
      // Last, so a transaction that failed before it forgets none of them.
      this.#removeDone();
    });
    if (logged.length === 0) return;
    await this.#alarmBy(outbox.length > 0 ? now + RESEND_AFTER_MS : now + TRIM_EVERY_MS);
    this.#streams.fanOut(logged);
    if (outbox.length > 0) this.#deliveries.start(outbox, byId);
  }

  /** The project's endpoints changed: read them again before the next event. */
  async invalidate(): Promise<void> {
    this.#hooks = null;
  }

  #routes(projectId: string): Promise<Hooks> {
    if (!this.#hooks || this.#hooks.until < Date.now()) {
      const hooks = enabledEndpoints(db(this.env.DB), projectId).then((list) => ({ list, byId: new Map(list.map((h) => [h.id, h])) }));
      this.#hooks = { hooks, until: Date.now() + HOOKS_TTL_MS };
      hooks.catch(() => (this.#hooks = null));
    }
    return this.#hooks.hooks;
  }

  /** These deliveries left: their rows are deleted with the hub's next write, or on their own after DONE_LINGER_MS. */
  #left(rows: OutboxRow[]): void {
    for (const row of rows) this.#done.add(row.delivery_id);
    this.#lingering ??= setTimeout(() => {
      this.#lingering = null;
      this.#removeDone();
    }, DONE_LINGER_MS);
  }

  /** Deletes the done outbox rows; called beside a write the hub makes anyway, or by the linger. */
  #removeDone(): void {
    if (this.#lingering) clearTimeout(this.#lingering);
    this.#lingering = null;
    if (this.#done.size === 0) return;
    // One statement for them all: one per row was a third of the hand-over's time in the inbound profile.
    this.#sql.exec("DELETE FROM outbox WHERE delivery_id IN (SELECT value FROM json_each(?))", JSON.stringify([...this.#done]));
    this.#done.clear();
  }

  async #alarmBy(at: number): Promise<void> {
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > at) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmAt = at;
    }
  }

  /** Sends what the outbox still holds, trims the log, and comes back while there is work. */
  async alarm(): Promise<void> {
    this.#alarmAt = null;
    const stale = this.#sql
      .exec<OutboxRow>(
        `SELECT o.delivery_id, o.project_id, o.webhook_id, o.event_id, e.type AS event_type, e.body
         FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.created_at <= ? ORDER BY o.created_at LIMIT 500`,
        Date.now() - RESEND_AFTER_MS,
      )
      .toArray()
      .filter((row) => !this.#deliveries.has(row.delivery_id) && !this.#done.has(row.delivery_id));
    const sent = await this.#deliveries.send(stale);
    // In the trim's turn: one commit; and what is left in the outbox is then what still has to leave.
    this.#removeDone();
    this.#trim(Date.now());
    const any = (table: string) => this.#sql.exec(`SELECT 1 FROM ${table} LIMIT 1`).toArray().length > 0;
    if (any("outbox")) await this.#alarmBy(Date.now() + (sent ? RESEND_AFTER_MS : 3 * RESEND_AFTER_MS));
    else if (any("events")) await this.#alarmBy(Date.now() + TRIM_EVERY_MS);
  }

  /** Drops events past retention (never one an outbox row still needs), and remembers how far it went. */
  #trim(now: number): void {
    const newest = this.#sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
    const [old] = this.#sql
      .exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events WHERE created_at < ?", now - RETENTION_MS)
      .toArray();
    const through = Math.max(old?.seq ?? 0, newest - MAX_EVENTS);
    if (through <= this.#trimmedThrough()) return;
    this.#sql.exec("DELETE FROM events WHERE seq <= ? AND id NOT IN (SELECT event_id FROM outbox)", through);
    this.#sql.exec("INSERT INTO meta (key, value) VALUES ('trimmed_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", through);
  }

  #trimmedThrough(): number {
    const [row] = this.#sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'trimmed_through'").toArray();
    return row?.value ?? 0;
  }

  /** An SSE stream (GET /events, forwarded here): `after`, the seq to resume from; `types`, filters like `message.*`. */
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const after = params.has("after") ? Number(params.get("after")) : null;
    const types = params.get("types")?.split(",").filter(Boolean) ?? null;
    return this.#streams.open(after, types?.length ? types : null);
  }

  /** The log's newest seq: where a stream that starts live now would begin (GET /events over several hubs). */
  async newestSeq(): Promise<number> {
    return this.#newestSeq();
  }

  #newestSeq(): number {
    return this.#sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
  }

  /** Events logged, per type, since the object began counting (none yet: an empty record). */
  async publishedCounts(): Promise<Record<string, number>> {
    const rows = this.#sql.exec<{ type: string; count: number }>("SELECT type, count FROM published").toArray();
    return Object.fromEntries(rows.map((r) => [r.type, r.count]));
  }

  /** Deliveries in the outbox: all of them, and those done (left, still to delete). For tests and diagnostics. */
  async outboxSize(): Promise<{ rows: number; done: number }> {
    const rows = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
    return { rows, done: this.#done.size };
  }

  /** How many SSE streams are open (for tests and diagnostics). */
  async listenerCount(): Promise<number> {
    return this.#streams.size;
  }
}

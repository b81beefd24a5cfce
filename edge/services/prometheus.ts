/**
 * The operator's Prometheus exposition (GET /admin/metrics): the fleet's
 * state across every project, as text a Prometheus server scrapes.
 *
 * Formatted by prom-client, the Node client Prometheus lists, which runs in
 * workerd under `nodejs_compat` (its metric classes only need `util`): one
 * fresh Registry per scrape, no default metrics (an isolate's memory and CPU
 * mean nothing to an operator), so values are set from what D1 and the
 * objects say now and nothing lingers between requests or isolates.
 *
 * Where each figure comes from:
 * - numbers by state, health per number: the `instances` rows, which each
 *   number's object mirrors its own state into;
 * - outbound queue per number: the `queued` messages in D1, one indexed
 *   query. Each number's object holds the queue itself (`queueSize()`), but
 *   asking a thousand objects per scrape costs a thousand subrequests, and
 *   D1's `queued` is the same set (accepted, not yet sent, failed or
 *   canceled), behind the object only while the send journal waits for D1;
 * - webhook backlog: `webhook_deliveries` still `pending` or `retrying`;
 * - events per type: each project's EventHub counts what it logs (a counter
 *   the trimming of its 72-hour log never lowers), asked a few projects at a
 *   time.
 */
import pLimit from "p-limit";
import { Counter, Gauge, Registry } from "prom-client";
import { InstanceState } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { instanceFigures, openDeliveries, projectIds, queuedPerInstance } from "../db/operator-facts.ts";
import type { Env } from "../env.ts";
import { directoryOf, hubsOf } from "../objects/stubs.ts";

/** Event hubs asked at once: enough to keep a scrape short, few enough not to crowd the Worker's subrequests. */
const HUBS_AT_ONCE = 8;

export type Exposition = { contentType: string; text: string };

export async function exposition(env: Env): Promise<Exposition> {
  const d1 = db(env.DB);
  const [figures, queued, backlog, projects, fleets] = await Promise.all([
    instanceFigures(d1),
    queuedPerInstance(d1),
    openDeliveries(d1),
    projectIds(d1),
    directoryOf(env).fleets(),
  ]);
  const events = await eventCounts(env, projects);

  const registry = new Registry();
  const registers = [registry];
  const byState = new Gauge({ name: "pombo_instances", help: "Numbers by state, per project", labelNames: ["project_id", "state"], registers });
  const health = new Gauge({
    name: "pombo_instance_health",
    help: "A number's health score (0-100); below the project's threshold it leaves rotation",
    labelNames: ["instance_id", "project_id"],
    registers,
  });
  const queueDepth = new Gauge({
    name: "pombo_instance_outbound_queued",
    help: "Messages accepted for a number and not yet handed to WhatsApp",
    labelNames: ["instance_id", "project_id"],
    registers,
  });
  const openHooks = new Gauge({
    name: "pombo_webhook_backlog",
    help: "Webhook deliveries still to be made: pending (first attempt) or retrying",
    labelNames: ["project_id", "status"],
    registers,
  });
  const published = new Counter({
    name: "pombo_events_total",
    help: "Events published, per project and type, as the project's event hub counted them",
    labelNames: ["project_id", "type"],
    registers,
  });
  const fleetProcesses = new Gauge({ name: "pombo_fleet_processes", help: "Fleet processes linked to the edge now", registers });

  for (const project of new Set(figures.map((f) => f.project_id))) {
    for (const state of InstanceState.options) byState.set({ project_id: project, state }, 0);
  }
  for (const { id, project_id, state, health: score } of figures) {
    byState.inc({ project_id, state });
    health.set({ instance_id: id, project_id }, score);
    queueDepth.set({ instance_id: id, project_id }, 0);
  }
  // A deleted number's leftovers are not a number's queue.
  const numbers = new Set(figures.map((f) => f.id));
  for (const { instance_id, project_id, n } of queued) if (numbers.has(instance_id)) queueDepth.set({ instance_id, project_id }, n);
  for (const { project_id, status, n } of backlog) openHooks.set({ project_id, status }, n);
  for (const [project_id, counts] of events) {
    for (const [type, n] of Object.entries(counts)) published.inc({ project_id, type }, n);
  }
  fleetProcesses.set(fleets.length);
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/** Each project's event counts; a hub that cannot answer leaves its project out of this scrape rather than failing it. */
async function eventCounts(env: Env, projects: string[]): Promise<Map<string, Record<string, number>>> {
  const limit = pLimit(HUBS_AT_ONCE);
  const counts = await limit.map(projects, async (id) => {
    try {
      const perHub = await Promise.all(hubsOf(env, id).map((hub) => hub.publishedCounts()));
      const sum: Record<string, number> = {};
      for (const counts of perHub) for (const [type, n] of Object.entries(counts)) sum[type] = (sum[type] ?? 0) + n;
      return [id, sum] as const;
    } catch (err) {
      console.warn(`metrics: the event hub of a project did not answer: ${err instanceof Error ? err.message : err}`);
      return null;
    }
  });
  return new Map(counts.filter((c) => c !== null));
}

/**
 * `npm run bench:metrics -- --numbers 1000 --days 30`
 *
 * GET /metrics at scale (issue 13): a 30-day query for 1,000 numbers
 * answers in under 100 ms on local D1. Starts a fresh edge (wrangler dev,
 * local D1 in a temporary directory), then seeds straight into that D1 with
 * `wrangler d1 execute --local` (SQL that generates its rows: recursive
 * CTEs, no 720,000 HTTP calls): N numbers of one project, each with an hour
 * row for every hour of the last D days (random counts, latency spread over
 * four histogram buckets, a failure by one of three reasons in 1 hour of 20),
 * then the rows the counters' upsert keeps beside them (each number's days,
 * the project's hours), summed from those. A second project with N/10
 * numbers gets the same, so every query has to keep to its project.
 *
 * Then, one request at a time after a warm-up, --requests timed requests
 * (client clock, HTTP through wrangler dev included) of the last D days:
 *   (a) the project, bucket=day (with every number's totals);
 *   (b) the project, bucket=hour (with every number's totals);
 *   (c) one number, bucket=hour;
 * checks each answer's totals against the seeded rows, and prints
 * p50/p95/max, with the CPU the edge's workerd (the Worker and local D1)
 * spent per request and the machine's load: on a shared machine the clock
 * stretches with the load, the CPU per request does not. Target: p95 < 100 ms.
 *
 * Options: --numbers N (1000)  --days D (30)  --requests R (100)  --json  --keep
 *          --edge-profile=<file>  CPU profile of the edge's Worker isolate per case (<file>.a, .b, .c), summary on stderr
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { commandLine, int, onInterrupt } from "../test/harness/cli.ts";
import { ProjectClient } from "../test/harness/client.ts";
import { d1Execute, type Edge } from "../test/harness/edge.ts";
import { quantile } from "../test/harness/figures.ts";
import { type Stack, startStack } from "../test/harness/stack.ts";
import { inspectorPortOf, startEdgeProfile, writeEdgeProfile } from "./edge-profiler.ts";
import { groupCpuByName, selfCpuSeconds } from "./proc-usage.ts";

const opts = commandLine("usage: npm run bench:metrics -- [--numbers 1000] [--days 30] [--requests 100] [--json] [--keep] [--edge-profile=<file>]\n", {
  numbers: { type: "string", default: "1000" },
  days: { type: "string", default: "30" },
  requests: { type: "string", default: "100" },
  json: { type: "boolean", default: false },
  keep: { type: "boolean", default: false },
  "edge-profile": { type: "string", default: "" },
});
const N = int("numbers", opts.numbers!, 1);
const DAYS = int("days", opts.days!, 1);
const R = int("requests", opts.requests!, 1);
const TARGET_MS = 100;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

// ------------------------------------------------------------ the seed, in SQL

const COUNTERS = ["sent", "delivered", "read", "played", "received", "opt_outs", "webhooks_delivered", "webhooks_failed", "webhook_attempts_failed"];
const LATENCY = ["latency_3", "latency_5", "latency_7", "latency_10"];
const SUMMED = [...COUNTERS, ...LATENCY];
const sums = SUMMED.map((c) => `SUM(${c})`).join(", ");

/** The statements that give project `p` n numbers with an hour row each for every hour of [first, last], and the rollups. */
function seedSql(p: string, n: number, first: number, last: number): string {
  const numbers = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${n})`;
  const hours = `h(t) AS (SELECT ${first} UNION ALL SELECT t + 3600 FROM h WHERE t + 3600 <= ${last})`;
  const id = `'${p}-n' || printf('%05d', i)`;
  return `
    ${numbers} INSERT INTO instances (id, project_id, name, state) SELECT ${id}, '${p}', 'number ' || i, 'connected' FROM n;
    ${numbers}, ${hours}
    INSERT INTO metric_counts (project_id, instance_id, grain, start, ${SUMMED.join(", ")})
    SELECT '${p}', id, 'hour', t, s, s * 9 / 10, s * 6 / 10, s / 20, r, r / 50, (s + r) * 98 / 100, (s + r) / 100, (s + r) / 50,
           s / 2, s / 4, s / 8, s - s / 2 - s / 4 - s / 8
    FROM (SELECT ${id} AS id, t, abs(random()) % 30 AS s, abs(random()) % 25 AS r FROM n, h);
    INSERT INTO metric_failures (project_id, instance_id, grain, start, reason, count)
    SELECT project_id, instance_id, 'hour', start, CASE abs(random()) % 3 WHEN 0 THEN 'expired' WHEN 1 THEN 'server_error_463' ELSE 'send_failed' END, 1 + abs(random()) % 3
    FROM metric_counts WHERE project_id = '${p}' AND grain = 'hour' AND abs(random()) % 20 = 0;
    INSERT INTO metric_counts (project_id, instance_id, grain, start, ${SUMMED.join(", ")})
    SELECT project_id, instance_id, 'day', start - start % 86400, ${sums} FROM metric_counts WHERE project_id = '${p}' AND grain = 'hour' GROUP BY instance_id, start - start % 86400;
    INSERT INTO metric_counts (project_id, instance_id, grain, start, ${SUMMED.join(", ")})
    SELECT project_id, '', 'hour', start, ${sums} FROM metric_counts WHERE project_id = '${p}' AND grain = 'hour' GROUP BY start;
    INSERT INTO metric_failures (project_id, instance_id, grain, start, reason, count)
    SELECT project_id, instance_id, 'day', start - start % 86400, reason, SUM(count) FROM metric_failures WHERE project_id = '${p}' AND grain = 'hour' GROUP BY instance_id, start - start % 86400, reason;
    INSERT INTO metric_failures (project_id, instance_id, grain, start, reason, count)
    SELECT project_id, '', 'hour', start, reason, SUM(count) FROM metric_failures WHERE project_id = '${p}' AND grain = 'hour' AND instance_id <> '' GROUP BY start, reason;`;
}

async function sqlJson<T>(edge: Edge, sql: string): Promise<T[][]> {
  const out = await d1Execute(edge, sql, { json: true, timeoutMs: 900_000 });
  return (JSON.parse(out.slice(out.indexOf("["))) as { results: T[] }[]).map((r) => r.results);
}

// ------------------------------------------------------------ measuring

type Answer = { totals: { sent: number; failed: number }; series: unknown[]; numbers?: unknown[] };

async function measure(edge: Edge, api: ProjectClient, query: string) {
  const run = async () => {
    const res = await api.raw<Answer>("GET", `/metrics?${query}`, undefined, 60_000);
    if (res.status !== 200) throw new Error(`GET /metrics?${query}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return res;
  };
  for (let i = 0; i < Math.min(5, R); i++) await run();
  const ms: number[] = [];
  let last: Awaited<ReturnType<typeof run>> | undefined;
  // CPU the edge's workerd (the Worker and local D1) and this client spend per request: on a busy machine the
  // wall clock stretches with the load, this does not.
  const workerd = () => groupCpuByName(edge.pid).workerd ?? 0;
  const [edge0, self0] = [workerd(), selfCpuSeconds()];
  for (let i = 0; i < R; i++) {
    last = await run();
    ms.push(last.ms);
  }
  const edgeCpuMs = ((workerd() - edge0) * 1000) / R;
  const clientCpuMs = ((selfCpuSeconds() - self0) * 1000) / R;
  const sorted = ms.sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted.at(-1)!, edgeCpuMs, clientCpuMs, answer: last!.body, bytes: JSON.stringify(last!.body).length };
}

let stack: Stack | undefined;
const stateDir = mkdtempSync(path.join(tmpdir(), "pombo-bench-metrics-"));
async function cleanup() {
  await stack?.stop();
  if (!opts.keep) rmSync(stateDir, { recursive: true, force: true });
}
onInterrupt(log, cleanup);

try {
  log(`${N} numbers x ${DAYS} days of hourly rows; D1 state in ${stateDir}`);
  stack = await startStack("bench-metrics", 0, { persistTo: stateDir });
  const { edge, admin, api, projectId } = stack;
  const neighbour = await admin.createProject("bench-metrics-neighbour");

  const to = Math.ceil(Date.now() / 3_600_000) * 3_600;
  const from = to - DAYS * 86_400;
  const t0 = performance.now();
  await sqlJson(edge, seedSql(projectId, N, from, to - 3_600));
  await sqlJson(edge, seedSql(neighbour.id, Math.max(1, Math.floor(N / 10)), from, to - 3_600));
  const seedSeconds = (performance.now() - t0) / 1000;
  const [[rows]] = (await sqlJson<{ n: number }>(edge, "SELECT count(*) AS n FROM metric_counts")) as [[{ n: number }]];
  const [[mine]] = (await sqlJson<{ sent: number; failed: number }>(
    edge,
    `SELECT (SELECT SUM(sent) FROM metric_counts WHERE project_id = '${projectId}' AND instance_id = '' AND grain = 'hour') AS sent,
            (SELECT SUM(count) FROM metric_failures WHERE project_id = '${projectId}' AND instance_id = '' AND grain = 'hour') AS failed`,
  )) as [[{ sent: number; failed: number }]];
  log(`seeded ${rows!.n} metric_counts rows in ${f(seedSeconds)} s (the project sent ${mine!.sent}, failed ${mine!.failed})`);

  const range = `from=${new Date(from * 1000).toISOString()}&to=${new Date(to * 1000).toISOString()}`;
  const one = `${projectId}-n${String(Math.floor(N / 2)).padStart(5, "0")}`;
  const cases: [string, string][] = [
    [`(a) project, ${DAYS} days by day, with each number's totals`, `${range}&bucket=day`],
    [`(b) project, ${DAYS} days by hour, with each number's totals`, `${range}&bucket=hour`],
    [`(c) one number, ${DAYS} days by hour`, `${range}&bucket=hour&instance_id=${one}`],
  ];
  const results = [];
  for (const [name, query] of cases) {
    log(`measuring ${name}, ${R} requests`);
    const profile = opts["edge-profile"] ? await startEdgeProfile(inspectorPortOf(edge.pid)) : null;
    const r = await measure(edge, api, query);
    if (profile) await writeEdgeProfile(log, await profile.stop(), name, `${opts["edge-profile"]}.${name.slice(1, 2)}.cpuprofile`);
    if (!query.includes("instance_id")) {
      if (r.answer.totals.sent !== mine!.sent || r.answer.totals.failed !== mine!.failed) throw new Error(`${name}: totals ${JSON.stringify(r.answer.totals)} do not match the seed`);
      if (r.answer.numbers?.length !== N) throw new Error(`${name}: ${r.answer.numbers?.length} numbers, not ${N}`);
    }
    results.push({ name, ...r });
  }

  const out = (line = "") => process.stdout.write(`${line}\n`);
  out(`GET /metrics over ${rows!.n} metric_counts rows (${N} numbers x ${DAYS} days of hours, plus ${Math.max(1, Math.floor(N / 10))} numbers in another project), ${R} sequential requests each, client clock (HTTP through wrangler dev included):`);
  out(`machine load average over the last minute: ${f(loadavg()[0]!, 2)} (the figures stretch with it: this machine is shared)`);
  for (const r of results) {
    out(`${r.name}: p50 ${f(r.p50)} ms  p95 ${f(r.p95)} ms  max ${f(r.max)} ms  (${r.answer.series.length} buckets, ${Math.round(r.bytes / 1024)} KB)  ${r.p95 < TARGET_MS ? "OK" : "OVER"} (target p95 < ${TARGET_MS} ms)`);
    out(`    CPU per request: edge (workerd: Worker + local D1) ${f(r.edgeCpuMs)} ms, client ${f(r.clientCpuMs)} ms`);
  }
  if (opts.json) out(JSON.stringify({ rows: rows!.n, numbers: N, days: DAYS, requests: R, seed_seconds: Number(f(seedSeconds)), load: loadavg()[0], results: results.map(({ name, p50, p95, max, edgeCpuMs }) => ({ name, p50, p95, max, edge_cpu_ms: edgeCpuMs })) }));
  if (opts.keep) log(`D1 state kept in ${stateDir}`);
  if (results.some((r) => r.p95 >= TARGET_MS)) process.exitCode = 1;
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  if (stack) log(stack.diagnostics());
  process.exitCode = 1;
} finally {
  await cleanup();
}

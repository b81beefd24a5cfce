/**
 * Fleet benchmark: `npm run bench:fleet -- --numbers 100`
 *
 * Starts a fresh edge (temporary state), N crabline WhatsApp peers in a
 * separate process, the routing proxy and ONE fleet process; creates a
 * project and N instances, imports N sessions and reports:
 *   - time from the first import to all N connected;
 *   - the fleet process RSS (VmRSS) at baseline (before any instance), once
 *     all are connected, and after an idle period; per connected number;
 *   - the edge -> fleet -> edge frame round trip (rtt_ms, measured inside the
 *     instance's Durable Object) from POST /admin/instances/{id}/ping, spread
 *     over the instances, plus the HTTP-observed time of the same calls.
 *
 * Options: --numbers N (100)  --pings P (1000)  --idle-ms MS (10000)
 *          --concurrency C (1: pings one at a time)  --json (also print a JSON summary)
 *          --keep-logs (keep the log directory)
 *          --fleet-node-args="<flags>" (node flags for the fleet process, e.g. --fleet-node-args=--max-semi-space-size=1)
 */
import { commandLine, int, printReport, REPORT_OPTIONS, runBench } from "../test/harness/cli.ts";
import { stats } from "../test/harness/figures.ts";
import { PeerProcesses } from "../test/harness/peer-processes.ts";
import { pool } from "../test/harness/schedule.ts";
import { type Stack, startStack } from "../test/harness/stack.ts";
import { sleep } from "../test/harness/waits.ts";
import { rssMb } from "./proc-usage.ts";

const opts = commandLine(
  "usage: npm run bench:fleet -- [--numbers 100] [--pings 1000] [--idle-ms 10000] [--concurrency 1] [--json] [--keep-logs] [--fleet-node-args=\"<flags>\"]\n",
  {
    numbers: { type: "string", default: "100" },
    pings: { type: "string", default: "1000" },
    "idle-ms": { type: "string", default: "10000" },
    concurrency: { type: "string", default: "1" },
    ...REPORT_OPTIONS,
    "fleet-node-args": { type: "string", default: "" },
  },
);
const N = int("numbers", opts.numbers!, 1);
const PINGS = int("pings", opts.pings!, 0);
const IDLE_MS = int("idle-ms", opts["idle-ms"]!, 0);
const CONCURRENCY = int("concurrency", opts.concurrency!, 1);
const FLEET_NODE_ARGS = opts["fleet-node-args"]!.split(/\s+/).filter(Boolean);

/** Hard ceiling for the whole run: start-up, N connects, idle, pings. */
const OVERALL_TIMEOUT_MS = 120_000 + N * 2_000 + IDLE_MS + PINGS * 200;
const CONNECT_TIMEOUT_MS = 30_000 + N * 1_000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

// ---------------------------------------------------------------- run

let stack: Stack<PeerProcesses> | undefined;

async function cleanup() {
  if (!stack) return;
  stack.keepLogs = opts["keep-logs"] || process.exitCode === 1;
  await stack.stop();
}

await runBench(log, { timeoutMs: OVERALL_TIMEOUT_MS, cleanup, diagnostics: () => stack?.diagnostics() }, async () => {
  log(`N=${N}`);
  // The peers in a process of their own: the fleet's RSS is the fleet's alone.
  stack = await startStack("bench", await PeerProcesses.start(N));
  const { admin, api } = stack;
  log(`${N} peers up (pid ${stack.peers.pids().join(", ")}), edge up on ${stack.edge.url}, logs in ${stack.logDir}`);

  const fleet = stack.fleet({ fleetId: "bench-fleet", logLevel: process.env.POMBO_LOG_LEVEL ?? "warn", nodeArgs: FLEET_NODE_ARGS });
  await stack.waitRegistered(fleet, 30_000);
  const fleetPid = fleet.pid;
  await sleep(2_000); // let start-up allocations settle
  const rssBaseline = rssMb(fleetPid);
  log(`fleet pid ${fleetPid}, baseline RSS ${f(rssBaseline, 1)} MB`);

  const instances = await stack.createInstances(N, { concurrency: 8 });
  log(`${N} instances created`);

  const importStart = performance.now();
  await pool(instances, 8, (inst, i) => stack!.importFor(inst, stack!.peers.peers[i]!));
  const importsDoneMs = performance.now() - importStart;
  log(`${N} sessions imported in ${f(importsDoneMs / 1000)} s`);

  await stack.waitConnected(
    instances.map((i) => i.id),
    CONNECT_TIMEOUT_MS,
    undefined,
    100,
  );
  const connectMs = performance.now() - importStart;
  const rssConnected = rssMb(fleetPid);
  log(`all ${N} connected ${f(connectMs / 1000)} s after the first import; RSS ${f(rssConnected, 1)} MB`);

  await sleep(IDLE_MS);
  const rssIdle = rssMb(fleetPid);
  const stillConnected = (await api.listAllInstances()).filter((i) => i.state === "connected").length;
  log(`after ${IDLE_MS / 1000} s idle: RSS ${f(rssIdle, 1)} MB, ${stillConnected}/${N} connected`);

  const rtt: number[] = [];
  const http: number[] = [];
  let pingErrors = 0;
  let firstError = "";
  const pingStart = performance.now();
  await pool(
    Array.from({ length: PINGS }, (_, i) => instances[i % N]!.id),
    CONCURRENCY,
    async (id) => {
      const r = await admin.ping(id);
      if (r.status === 200 && typeof r.body?.rtt_ms === "number") {
        rtt.push(r.body.rtt_ms);
        http.push(r.ms);
      } else {
        pingErrors++;
        firstError ||= `${r.status} ${JSON.stringify(r.body)}`;
      }
    },
  );
  const pingWallMs = performance.now() - pingStart;
  if (pingErrors) log(`${pingErrors} ping(s) failed; first: ${firstError}`);

  const maxConcurrent = Math.max(...instances.map((i) => stack!.proxy.maxConcurrent(i.id)));
  const liveSockets = instances.reduce((a, i) => a + stack!.proxy.liveCount(i.id), 0);
  const r = stats(rtt);
  const h = stats(http);
  const perNumberDelta = (rssIdle - rssBaseline) / N;
  const perNumberTotal = rssIdle / N;

  const out = [
    "",
    "Pombo fleet benchmark",
    `  node                 ${process.version} (fleet: ${process.execPath})`,
    `  numbers (N)          ${N}${FLEET_NODE_ARGS.length ? ` (fleet node flags: ${FLEET_NODE_ARGS.join(" ")})` : ""}`,
    `  connect              all ${N} connected ${f(connectMs / 1000)} s after the first import (imports took ${f(importsDoneMs / 1000)} s)`,
    `  fleet RSS            baseline ${f(rssBaseline, 1)} MB | all connected ${f(rssConnected, 1)} MB | after ${IDLE_MS / 1000} s idle ${f(rssIdle, 1)} MB`,
    `  RSS per number       ${f(perNumberDelta)} MB above baseline ((idle - baseline) / N), ${f(perNumberTotal)} MB total (idle / N)`,
    `  edge->fleet frame    rtt_ms p50 ${f(r.p50)} | p99 ${f(r.p99)} | mean ${f(r.mean)} | max ${f(r.max)}  (${r.n} pings over ${N} instances, concurrency ${CONCURRENCY})`,
    `  HTTP round trip      ms p50 ${f(h.p50)} | p99 ${f(h.p99)} | mean ${f(h.mean)}  (client -> edge -> fleet -> edge -> client; ${f(pingWallMs / 1000)} s wall)`,
    `  sockets              ${liveSockets} live at the peers, max ${maxConcurrent} concurrent for any one number; ${stillConnected}/${N} connected after idle`,
    `  ping errors          ${pingErrors}`,
    `  target               <= 3 MB RSS per connected idle number: ${perNumberDelta <= 3 ? "met" : "NOT met"} (above baseline), ${perNumberTotal <= 3 ? "met" : "NOT met"} (total)`,
    "",
  ];
  printReport(
    out,
    opts.json && {
      numbers: N,
      connect_ms: Math.round(connectMs),
      rss_mb: { baseline: rssBaseline, connected: rssConnected, idle: rssIdle },
      rss_per_number_mb: { above_baseline: perNumberDelta, total: perNumberTotal },
      rtt_ms: r,
      http_ms: h,
      ping_errors: pingErrors,
      max_concurrent_sockets: maxConcurrent,
    },
  );
  if (pingErrors || stillConnected < N || maxConcurrent > 1) process.exitCode = 1;
});

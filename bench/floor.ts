/**
 * What the local platform charges per operation, before any of Pombo's code:
 * an HTTP request, a D1 query, a D1 batch, a Durable Object call, its SQLite
 * commits. The edge's figures in bench:send and bench:inbound are sums of
 * these plus Pombo's own work, so this is the floor they stand on: how many
 * of each a message costs decides most of its CPU.
 *
 *     npm run bench:floor -- [--ops 2000]
 *
 * Runs `wrangler dev` on bench/floor-worker.ts (a Worker of its own, nothing
 * of Pombo) and reads workerd's CPU from /proc around each operation, run
 * `--ops` times one after another: the runtime workerd apart from wrangler's
 * dev proxy (proc-usage.ts edgeWorkerdCpu).
 */
import { commandLine, int, printReport, REPORT_OPTIONS } from "../test/harness/cli.ts";
import { measureOps, withBenchWorker } from "./bench-worker.ts";

const opts = commandLine("usage: npm run bench:floor -- [--ops 2000] [--json]\n", { ops: { type: "string", default: "2000" }, ...REPORT_OPTIONS });
const OPS = int("--ops", opts.ops!, 100);
const log = (line: string) => process.stderr.write(`[floor] ${line}\n`);
const f = (x: number, d = 3) => x.toFixed(d);

await withBenchWorker<{ ops: string[] }>(
  "floor",
  "bench/floor-worker.ts",
  [
    'compatibility_date = "2025-09-01"',
    "[[d1_databases]]",
    'binding = "DB"',
    'database_name = "floor"',
    'database_id = "00000000-0000-0000-0000-000000000001"',
    "[[durable_objects.bindings]]",
    'name = "OBJECT"',
    'class_name = "FloorObject"',
    "[[migrations]]",
    'tag = "v1"',
    'new_sqlite_classes = ["FloorObject"]',
  ],
  log,
  async (worker) => {
    const { base, setup } = worker;
    const ops = setup.ops;
    const measure = (run: () => Promise<unknown>, count: number) => measureOps(worker, run, count);
    const rows: { what: string; runtime: number; proxy: number; wall: number }[] = [];
    // An HTTP request that does nothing: what every API call pays before any route runs.
    rows.push({
      what: "http request",
      ...(await measure(async () => {
        for (let i = 0; i < OPS; i++) await (await fetch(`${base}/?op=nothing&n=1`)).text();
      }, OPS)),
    });
    // Each operation `OPS` times inside requests of 100: the request's own cost is spread thin.
    for (const op of ops.filter((o) => o !== "nothing")) {
      await (await fetch(`${base}/?op=${encodeURIComponent(op)}&n=50`)).text();
      rows.push({
        what: op,
        ...(await measure(async () => {
          for (let i = 0; i < OPS / 100; i++) await (await fetch(`${base}/?op=${encodeURIComponent(op)}&n=100`)).text();
        }, OPS)),
      });
    }
    printReport(
      [
        `local platform, one operation at a time, ${OPS} of each (workerd CPU per operation):`,
        "  operation                runtime ms   dev proxy ms   wall ms",
        ...rows.map((r) => `  ${r.what.padEnd(24)} ${f(r.runtime).padStart(10)} ${f(r.proxy).padStart(14)} ${f(r.wall).padStart(9)}`),
        "  (runtime: the workerd that runs the Worker, its objects and the D1 simulator; dev proxy: wrangler's, absent on Cloudflare)",
      ],
      opts.json ? { ops: OPS, rows } : false,
    );
  },
);

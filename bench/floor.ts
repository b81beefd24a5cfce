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
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wranglerEnv } from "../test/harness/edge.ts";
import { commandLine, int, printReport, REPORT_OPTIONS, runBench } from "../test/harness/cli.ts";
import { freePort, killGroup, ROOT, spawnLogged } from "../test/harness/processes.ts";
import { waitFor } from "../test/harness/waits.ts";
import { edgeWorkerdCpu } from "./proc-usage.ts";

const opts = commandLine("usage: npm run bench:floor -- [--ops 2000] [--json]\n", { ops: { type: "string", default: "2000" }, ...REPORT_OPTIONS });
const OPS = int("--ops", opts.ops!, 100);
const log = (line: string) => process.stderr.write(`[floor] ${line}\n`);
const f = (x: number, d = 3) => x.toFixed(d);

const dir = mkdtempSync(path.join(tmpdir(), "pombo-bench-floor-"));
let wrangler: { pid: number } | undefined;

await runBench(
  log,
  {
    timeoutMs: 600_000,
    cleanup: async () => {
      if (wrangler) killGroup(wrangler.pid, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    diagnostics: () => `wrangler's log: ${path.join(dir, "wrangler.log")}`,
  },
  async () => {
    writeFileSync(
      path.join(dir, "wrangler.toml"),
      [
        'name = "pombo-floor"',
        `main = ${JSON.stringify(path.join(ROOT, "bench/floor-worker.ts"))}`,
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
        "",
      ].join("\n"),
    );
    const port = await freePort();
    const child = spawnLogged(
      path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      ["dev", "--config", path.join(dir, "wrangler.toml"), "--port", String(port), "--ip", "127.0.0.1", "--persist-to", path.join(dir, "state"), "--log-level", "warn"],
      { env: wranglerEnv(), logPath: path.join(dir, "wrangler.log"), cwd: dir },
    );
    wrangler = { pid: child.child.pid! };
    const base = `http://127.0.0.1:${port}`;
    let ops: string[] = [];
    await waitFor(
      async () => {
        try {
          const res = await fetch(`${base}/setup`);
          if (res.ok) ops = ((await res.json()) as { ops: string[] }).ops;
          return res.ok;
        } catch {
          return false;
        }
      },
      60_000,
      { what: "wrangler dev" },
    );
    const cpu = () => edgeWorkerdCpu(wrangler!.pid, port);
    const measure = async (run: () => Promise<unknown>, count: number) => {
      const a = cpu();
      const t = performance.now();
      await run();
      const b = cpu();
      return { runtime: (1000 * (b.runtime - a.runtime)) / count, proxy: (1000 * (b.devProxy - a.devProxy)) / count, wall: (performance.now() - t) / count };
    };
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

/**
 * What the received path's suspects really cost in workerd: the frame's
 * parse and the `message.received` params' validation, the event id and
 * JSON, and the instance object's call to the project's hub (object to
 * object, with a realistic sealed event, a tiny one, one string; the stub
 * cached or made each time; from the Worker for comparison). The edge
 * profile overstates native-heavy code, so these are read as workerd CPU
 * from /proc, not from a profile.
 *
 *     npm run bench:costs -- [--cpu 0.6]
 *
 * Runs `wrangler dev` on bench/costs-worker.ts (Pombo's real modules, in a
 * Worker of its own) and repeats each operation until it has used about
 * `--cpu` seconds of the runtime workerd (the clock ticks 10 ms), in
 * requests of many operations, so a request's own cost is spread thin.
 */
import { commandLine, printReport, REPORT_OPTIONS } from "../test/harness/cli.ts";
import { measureOps, withBenchWorker } from "./bench-worker.ts";

const opts = commandLine("usage: npm run bench:costs -- [--cpu 0.6] [--json]\n", { cpu: { type: "string", default: "0.6" }, ...REPORT_OPTIONS });
const CPU = Number(opts.cpu);
if (!(CPU >= 0.1 && CPU <= 5)) throw new Error("--cpu: seconds of workerd CPU per figure, 0.1 to 5");
const log = (line: string) => process.stderr.write(`[costs] ${line}\n`);
const f = (x: number, d = 4) => x.toFixed(d);

type Setup = { ops: { name: string; kind: "js" | "call" }[]; sizes: { frame: number; event: number } };

await withBenchWorker<Setup>(
  "costs",
  "bench/costs-worker.ts",
  [
    'compatibility_date = "2026-11-01"',
    'compatibility_flags = ["nodejs_compat"]',
    "[durable_objects]",
    'bindings = [ { name = "RELAY", class_name = "RelayObject" }, { name = "EVENTS", class_name = "HubObject" } ]',
    "[[migrations]]",
    'tag = "v1"',
    'new_sqlite_classes = ["RelayObject", "HubObject"]',
  ],
  log,
  async (worker) => {
    const { base, setup } = worker;
    const call = async (op: string, n: number) => {
      const res = await fetch(`${base}/?op=${encodeURIComponent(op)}&n=${n}`);
      if (!res.ok) throw new Error(`${op}: HTTP ${res.status} ${await res.text()}`);
      await res.text();
    };
    const rows: { what: string; ops: number; runtime: number; wall: number }[] = [];
    for (const { name, kind } of setup.ops) {
      // Pure work runs in requests of 5,000, calls in requests of 200; warm up, take a first reading, then run to ~CPU seconds.
      const chunk = kind === "js" ? 5000 : 200;
      await call(name, chunk);
      const first = await measureOps(worker, () => call(name, chunk), chunk);
      const requests = Math.max(1, Math.min(400, Math.round((1000 * CPU) / Math.max(first.runtime, 1e-4) / chunk)));
      const m = await measureOps(
        worker,
        async () => {
          for (let i = 0; i < requests; i++) await call(name, chunk);
        },
        requests * chunk,
      );
      rows.push({ what: name, ops: requests * chunk, runtime: m.runtime, wall: m.wall });
      log(`${name}: ${f(m.runtime)} ms`);
    }
    printReport(
      [
        `received path, per operation, workerd runtime CPU (frame ${setup.sizes.frame} B, sealed event body ${setup.sizes.event} B):`,
        "  operation                              runtime ms     wall ms        ops",
        ...rows.map((r) => `  ${r.what.padEnd(38)} ${f(r.runtime).padStart(10)} ${f(r.wall).padStart(11)} ${String(r.ops).padStart(10)}`),
        "  (pure work runs in the Worker's isolate; do->do: from one object to another, as the instance object calls its hub; the hub does nothing)",
      ],
      opts.json ? { cpu: CPU, sizes: setup.sizes, rows } : false,
    );
  },
);

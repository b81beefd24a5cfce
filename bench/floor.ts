/**
 * What the local platform charges per operation, before any of Pombo's code:
 * an HTTP request, the rate limit binding, a D1 query and batch, a Durable
 * Object call and its SQLite commits, a WebSocket frame and its reply, an
 * outbound POST, a queue message consumed alone. The edge's figures in
 * bench:send and bench:inbound are sums of these plus Pombo's own work, so
 * this is the floor they stand on; it ends with the least a sent and a
 * received text can cost, adding up the operations each needs whatever code
 * runs around them (bench/profiles/send-2026-12.md, round 13).
 *
 *     npm run bench:floor -- [--ops 2000] [--assets]
 *
 * Runs `wrangler dev` on bench/floor-worker.ts (a Worker of its own, nothing
 * of Pombo) and reads workerd's CPU from /proc around each operation, run
 * `--ops` times one after another: the runtime workerd apart from wrangler's
 * dev proxy (proc-usage.ts edgeWorkerdCpu).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { commandLine, int, printReport, REPORT_OPTIONS } from "../test/harness/cli.ts";
import { ROOT } from "../test/harness/processes.ts";
import { measureOps, withBenchWorker } from "./bench-worker.ts";

const opts = commandLine("usage: npm run bench:floor -- [--ops 2000] [--assets] [--json]\n", {
  ops: { type: "string", default: "2000" },
  // Served as Pombo is (wrangler.toml): static assets, the Worker first. Every request then passes the local asset router.
  assets: { type: "boolean", default: false },
  ...REPORT_OPTIONS,
});
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
    "[[ratelimits]]",
    'name = "LIMIT"',
    'namespace_id = "1"',
    "simple = { limit = 1000000, period = 10 }",
    "[[queues.producers]]",
    'binding = "QUEUE"',
    'queue = "floor"',
    "[[queues.consumers]]",
    'queue = "floor"',
    "max_batch_size = 100",
    "max_batch_timeout = 0",
    ...(opts.assets ? ["[assets]", `directory = ${JSON.stringify(path.join(ROOT, ".build/assets"))}`, 'binding = "ASSETS"', "run_worker_first = true"] : []),
  ],
  log,
  async (worker) => {
    const { base, setup } = worker;
    const ops = setup.ops;
    // The webhook receiver of "fetch out": answers 200 at once.
    const receiver = createServer((req, res) => req.resume().on("end", () => res.end("ok")));
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    await (await fetch(`${base}/setup?receiver=${encodeURIComponent(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}`)}`)).text();
    const measure = (work: () => Promise<unknown>, count: number) => measureOps(worker, work, count);
    // `n` of one operation in one request; a failed one is a failed bench, not a cheap figure.
    const run = async (op: string, n: number) => {
      const res = await fetch(`${base}/?op=${encodeURIComponent(op)}&n=${n}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`${op}: HTTP ${res.status} ${text.slice(0, 300)}`);
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
      await run(op, 50);
      rows.push({
        what: op,
        ...(await measure(async () => {
          for (let i = 0; i < OPS / 100; i++) await run(op, 100);
        }, OPS)),
      });
    }
    const queue = (await (await fetch(`${base}/queue`)).json()) as { consumed: number; batches: number };
    // Each message alone in its batch, as at a low rate; more per batch would make this row cheaper than that.
    if (queue.batches !== queue.consumed) log(`queue: ${queue.consumed} messages came in ${queue.batches} batches, not one each`);
    // Frames over a hibernatable WebSocket, as the fleet's link carries a send and its answer: one in, its reply out.
    const socket = await openSocket(`${base.replace("http", "ws")}/ws`);
    for (const [what, prefix] of [["websocket frame + reply", "p:"], ["the same, writing once", "w:"]] as const) {
      for (let i = 0; i < 50; i++) await socket.roundTrip(`${prefix}warm${i}`);
      rows.push({
        what,
        ...(await measure(async () => {
          for (let i = 0; i < OPS; i++) await socket.roundTrip(`${prefix}${i}`);
        }, OPS)),
      });
    }
    socket.close();
    receiver.close();
    const price = (what: string) => rows.find((r) => r.what === what)!.runtime;
    // The least a message can cost with its guarantees kept, whatever code runs around these operations (send-2026-12.md, round 13).
    const sentLeast = ["http request", "rate limit call", "do call + 1 write", "the same, writing once", "d1 batch of 9 writes", "do call + 1 write"];
    // Its webhook as Pombo delivers it: the first attempt from the hub (its POST, then its record), no queue on the way.
    const receivedLeast = ["websocket frame + reply", "d1 batch of 9 writes", "do call + 1 write", "fetch out (POST 1 KB)", "d1 batch of 9 writes"];
    const sum = (names: string[]) => names.reduce((total, name) => total + price(name), 0);
    printReport(
      [
        `local platform, one operation at a time, ${OPS} of each (workerd CPU per operation):`,
        "  operation                runtime ms   dev proxy ms   wall ms",
        ...rows.map((r) => `  ${r.what.padEnd(24)} ${f(r.runtime).padStart(10)} ${f(r.proxy).padStart(14)} ${f(r.wall).padStart(9)}`),
        "  (runtime: the workerd that runs the Worker, its objects and the D1 simulator; dev proxy: wrangler's, absent on Cloudflare)",
        `the least a sent text can cost here: ${f(sum(sentLeast))} ms (the request, its key's budget, the enqueue, the send's answer stored, the move to sent, its event), + ${f(price("d1 query") + price("d1 batch of 9 writes"))} ms for the accept's read and insert`,
        `the least a received text can cost here: ${f(sum(receivedLeast))} ms (the frame and its answer, its store, its event; its webhook posted by the hub and recorded)${opts.assets ? "" : "; Pombo's requests also pass the asset router: --assets"}`,
      ],
      opts.json ? { ops: OPS, assets: opts.assets, rows, least: { sent: sum(sentLeast), received: sum(receivedLeast) } } : false,
    );
  },
);

/** A WebSocket to the floor's object, one frame in flight: each round trip waits for its reply. */
async function openSocket(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let waiting: ((data: string) => void) | null = null;
  ws.addEventListener("message", (event) => waiting?.(String(event.data)));
  return {
    roundTrip: (frame: string) =>
      new Promise<void>((resolve, reject) => {
        waiting = (data) => (data === frame ? resolve() : reject(new Error(`reply ${data} to ${frame}`)));
        ws.send(frame);
      }),
    close: () => ws.close(),
  };
}

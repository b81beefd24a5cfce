/**
 * `npm run bench:hub -- [--shards 1] [--listeners 2] [--webhooks 1] [--rates 100,200,400,800,1600]`
 *
 * One project's event hubs alone, at rising event rates, through the real
 * Worker under wrangler dev. Events enter through `publish()` as the send and
 * receive paths call it, from a bench-only route of a bench-only Worker entry
 * (bench/hub-worker.ts: the real Worker plus that route; production has no
 * such door), one event per publish, spread over --numbers numbers, each
 * number's one after another as its instance object publishes them. N SSE
 * streams (`GET /events`) and M webhook endpoints (first attempts from the hub, signed,
 * on loopback) take every event.
 *
 * For each rate (open loop for --seconds): publish p50/p99 (the producer's
 * wait: the HTTP round trip to the bench route, and inside it the wait on
 * the hub), publish -> SSE p50/p99 (event `created_at` to arrival at each
 * stream), publish -> webhook p50/p99, and the edge's workerd CPU per event
 * (the step's publishing, streaming and webhook deliveries, divided by its
 * events), beside the CPU other jobs on the machine took meanwhile (which
 * stretches every latency). Then the first rate whose p99 (publish or SSE)
 * passes 250 ms: the hub's capacity on this machine (the ramp stops past
 * 1 s). Every stream is checked for each number's order, and for events
 * missing or repeated.
 *
 * `--shards K` sets POMBO_EVENT_SHARDS (a Worker without sharding ignores it).
 * `--edge-profile=<file>` writes a CPU profile of the Worker isolate over all steps.
 */
import { rmSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createParser } from "eventsource-parser";
import { commandLine, int, onInterrupt, printReport, REPORT_OPTIONS } from "../test/harness/cli.ts";
import { AdminClient, ProjectClient } from "../test/harness/client.ts";
import { type Edge, startEdge } from "../test/harness/edge.ts";
import { stats } from "../test/harness/figures.ts";
import { ROOT } from "../test/harness/processes.ts";
import { openLoop } from "../test/harness/schedule.ts";
import { BENCH_KEY_BUDGET } from "../test/harness/stack.ts";
import { waitFor } from "../test/harness/waits.ts";
import { WebhookReceiver } from "../test/harness/webhook-receiver.ts";
import { inspectorPortOf, startEdgeProfile, writeEdgeProfile } from "./edge-profiler.ts";
import { cpuMeter, edgeWorkerdCpu, groupCpuSeconds, machineCpuSeconds, selfCpuSeconds } from "./proc-usage.ts";

const usage =
  "usage: npm run bench:hub -- [--shards 1] [--listeners 2] [--webhooks 1] [--rates 100,200,400,800,1600] [--seconds 8] [--numbers 500] [--json] [--keep-logs] [--edge-profile=<file>]\n";
const opts = commandLine(usage, {
  shards: { type: "string", default: "1" },
  listeners: { type: "string", default: "2" },
  webhooks: { type: "string", default: "1" },
  rates: { type: "string", default: "100,200,400,800,1600" },
  seconds: { type: "string", default: "8" },
  numbers: { type: "string", default: "500" },
  ...REPORT_OPTIONS,
  "edge-profile": { type: "string", default: "" },
});
const SHARDS = int("shards", opts.shards!, 1);
const LISTENERS = int("listeners", opts.listeners!, 0);
const WEBHOOKS = int("webhooks", opts.webhooks!, 0);
const SECONDS = int("seconds", opts.seconds!, 1);
const NUMBERS = int("numbers", opts.numbers!, 1);
const RATES = opts.rates!.split(",").map((r) => int("rates", r, 1));
const LIMIT_MS = 250;
/** After a step's last publish, how long its events may take to reach every stream and endpoint. */
const DRAIN_MS = 60_000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

/** The repo's wrangler.toml with this bench's entry as `main`, next to it (its paths are relative; .gitignore has it). */
function benchConfig(): string {
  const text = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const changed = text.replace(/^main = .*$/m, 'main = "bench/hub-worker.ts"');
  if (changed === text) throw new Error("wrangler.toml: no main to replace");
  const file = path.join(ROOT, `.wrangler-harness-hub-${process.pid}.toml`);
  writeFileSync(file, changed);
  return file;
}

/** Each event's `created_at` (the Worker's clock when publish began; one machine, one clock), as a stream carried it. */
const eventTimes = new Map<string, number>();

/** An SSE stream of the project: when each event arrived, and each number's order as it came. */
async function listen(edge: Edge, key: string) {
  const arrivals = new Map<string, number>();
  const lastOf = new Map<string, number>();
  let outOfOrder = 0;
  let repeated = 0;
  const abort = new AbortController();
  const res = await fetch(`${edge.url}/events`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`GET /events answered ${res.status}`);
  const parser = createParser({
    onEvent: (e) => {
      if (e.event !== "message.received") return;
      const event = JSON.parse(e.data) as { id: string; created_at: string; payload: { body: string } };
      if (arrivals.has(event.id)) repeated++;
      eventTimes.set(event.id, Date.parse(event.created_at));
      arrivals.set(event.id, Date.now());
      const [instance, n] = event.payload.body.split(" ");
      if ((lastOf.get(instance!) ?? -1) >= Number(n)) outOfOrder++;
      lastOf.set(instance!, Number(n));
    },
  });
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      /* closed */
    }
  })();
  return { arrivals, problems: () => ({ outOfOrder, repeated }), close: () => abort.abort() };
}

const config = benchConfig();
let edge: Edge | undefined;
const receivers = Array.from({ length: WEBHOOKS }, () => new WebhookReceiver());
const streams: Awaited<ReturnType<typeof listen>>[] = [];
const cleanup = async () => {
  for (const s of streams) s.close();
  await Promise.allSettled([edge?.stop(), ...receivers.map((r) => r.close())]);
  rmSync(config, { force: true });
};
onInterrupt(log, cleanup);

try {
  log(`shards=${SHARDS} listeners=${LISTENERS} webhooks=${WEBHOOKS} rates=${RATES.join(",")}/s for ${SECONDS} s each, ${NUMBERS} numbers`);
  edge = await startEdge({ config, keyBudget: BENCH_KEY_BUDGET, vars: { POMBO_EVENT_SHARDS: String(SHARDS) } });
  const admin = new AdminClient(edge.url, edge.adminToken);
  const project = await admin.createProject("bench-hub");
  const api = new ProjectClient(edge.url, project.api_key);
  for (const r of receivers) await r.subscribe(api, ["message.*"]);
  for (let i = 0; i < LISTENERS; i++) streams.push(await listen(edge, project.api_key));

  const counter = new Map<string, number>();
  // A number's events come from its one instance object, which publishes them one after another: so does
  // the bench (its per-number order check would otherwise count two overlapping requests, which no producer makes).
  const previous = new Map<string, Promise<unknown>>();
  const publishOne = (i: number, samples?: { rtt: number[]; wait: number[] }): Promise<string> => {
    const instance = `inst-${i % NUMBERS}`;
    const n = counter.get(instance) ?? 0;
    counter.set(instance, n + 1);
    const sent = (previous.get(instance) ?? Promise.resolve()).then(() => publishAs(instance, n, samples));
    previous.set(instance, sent.catch(() => {}));
    return sent;
  };
  const publishAs = async (instance: string, n: number, samples?: { rtt: number[]; wait: number[] }) => {
    const event = {
      type: "message.received",
      instance_id: instance,
      sender: { jid: "5511988887777@s.whatsapp.net", lid: null, name: "Maria" },
      contact_id: "ct_1",
      conversation_id: "cv_1",
      reference: null,
      payload: { message_id: crypto.randomUUID(), wa_message_id: "3EB0A1B2C3", type: "text", from: "5511988887777@s.whatsapp.net", body: `${instance} ${n}` },
    };
    const t0 = performance.now();
    const res = await fetch(`${edge!.url}/__bench/publish`, {
      method: "POST",
      headers: { authorization: `Bearer ${edge!.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ project_id: project.id, events: [event] }),
    });
    if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
    const { ids, ms } = (await res.json()) as { ids: string[]; ms: number };
    samples?.rtt.push(performance.now() - t0);
    samples?.wait.push(ms);
    return ids[0]!;
  };
  const everywhere = (ids: string[]) =>
    ids.every((id) => streams.every((s) => s.arrivals.has(id))) &&
    receivers.every((r) => {
      const got = new Set(r.deliveries.map((d) => d.id));
      return ids.every((id) => got.has(id));
    });

  log("warm-up: 200 events");
  const warm: string[] = [];
  await openLoop(200, 100, async (i) => void warm.push(await publishOne(i)));
  await waitFor(() => everywhere(warm), DRAIN_MS, { intervalMs: 100, what: "warm-up events everywhere" });

  const profile = opts["edge-profile"] ? await startEdgeProfile(inspectorPortOf(edge.pid)) : null;
  type Step = {
    rate: number;
    events: number;
    publish_ms: { p50: number; p99: number };
    publish_wait_ms: { p50: number; p99: number };
    sse_ms: { p50: number; p99: number };
    webhook_ms: { p50: number; p99: number };
    undelivered: number;
    edge_cpu_ms_per_event: number;
    cpu_seconds: Record<string, number>;
  };
  const steps: Step[] = [];
  for (const rate of RATES) {
    const total = rate * SECONDS;
    const samples = { rtt: [] as number[], wait: [] as number[] };
    const ids: string[] = [];
    let failed = 0;
    const cpu = cpuMeter({
      // The runtime only: wrangler's dev proxy in front of it is not the edge (proc-usage.ts edgeWorkerdCpu).
      edge_workerd: () => edgeWorkerdCpu(edge!.pid, Number(new URL(edge!.url).port)).runtime,
      edge_all: () => groupCpuSeconds(edge!.pid),
      bench: selfCpuSeconds,
      machine: machineCpuSeconds,
    });
    const start = performance.now();
    await openLoop(total, rate, async (i) => {
      try {
        ids.push(await publishOne(i + 1_000_000 * steps.length, samples));
      } catch {
        failed++;
      }
    });
    const took = (performance.now() - start) / 1000;
    const drained = await waitFor(() => everywhere(ids), DRAIN_MS, { intervalMs: 100, what: "every event everywhere" }).then(
      () => true,
      () => false,
    );
    const used = cpu.stop();
    // What other jobs on the machine took meanwhile: on a shared machine, the latencies stretch with it.
    used.outside = used.machine! - used.edge_all! - used.bench!;
    for (const r of receivers) for (const d of r.deliveries) eventTimes.set(d.id, Date.parse(d.event.created_at));
    const created = new Map(ids.filter((id) => eventTimes.has(id)).map((id) => [id, eventTimes.get(id)!]));
    const sse = stats(streams.flatMap((s) => ids.filter((id) => s.arrivals.has(id)).map((id) => s.arrivals.get(id)! - created.get(id)!)));
    const hooks = stats(
      receivers.flatMap((r) => r.deliveries.filter((d) => created.has(d.id)).map((d) => d.receivedAt - created.get(d.id)!)),
    );
    const rtt = stats(samples.rtt);
    const wait = stats(samples.wait);
    const undelivered =
      streams.reduce((a, s) => a + ids.filter((id) => !s.arrivals.has(id)).length, 0) +
      receivers.reduce((a, r) => {
        const got = new Set(r.deliveries.map((d) => d.id));
        return a + ids.filter((id) => !got.has(id)).length;
      }, 0);
    const step: Step = {
      rate,
      events: ids.length,
      publish_ms: { p50: rtt.p50, p99: rtt.p99 },
      publish_wait_ms: { p50: wait.p50, p99: wait.p99 },
      sse_ms: { p50: sse.p50, p99: sse.p99 },
      webhook_ms: { p50: hooks.p50, p99: hooks.p99 },
      undelivered,
      edge_cpu_ms_per_event: Number(f((1000 * used.edge_workerd!) / Math.max(1, ids.length), 2)),
      cpu_seconds: used,
    };
    steps.push(step);
    log(
      `${rate}/s: ${ids.length} events in ${f(took)} s (${failed} failed), publish p99 ${f(rtt.p99)} ms, SSE p99 ${f(sse.p99)} ms, webhook p99 ${f(hooks.p99)} ms${drained ? "" : " (drain timed out)"}`,
    );
    // Past 4x the limit the next rate only piles up a backlog: the capacity is found.
    if (rtt.p99 > 4 * LIMIT_MS || sse.p99 > 4 * LIMIT_MS || !drained) break;
  }
  if (profile) await writeEdgeProfile(log, await profile.stop(), "hub", opts["edge-profile"]!);

  const problems = streams.map((s) => s.problems());
  const passed = steps.find((s) => s.publish_ms.p99 > LIMIT_MS || s.sse_ms.p99 > LIMIT_MS);
  const totalEvents = steps.reduce((a, s) => a + s.events, 0);
  const totalCpu = steps.reduce((a, s) => a + s.cpu_seconds.edge_workerd!, 0);
  const lines = [
    `event hub, ${SHARDS} shard(s), ${LISTENERS} SSE stream(s), ${WEBHOOKS} webhook(s), ${NUMBERS} numbers, one event per publish, ${SECONDS} s per rate:`,
    "   rate/s  events  publish p50/p99 ms (hub wait)      -> SSE p50/p99 ms   -> webhook p50/p99 ms  edge CPU/event  CPU s outside",
    ...steps.map(
      (s) =>
        `  ${String(s.rate).padStart(7)} ${String(s.events).padStart(7)}  ${f(s.publish_ms.p50).padStart(6)} / ${f(s.publish_ms.p99).padStart(6)} (${f(s.publish_wait_ms.p50, 0)}/${f(s.publish_wait_ms.p99, 0)})`.padEnd(
          62,
        ) +
        `${f(s.sse_ms.p50).padStart(7)} / ${f(s.sse_ms.p99).padStart(7)}   ${f(s.webhook_ms.p50).padStart(7)} / ${f(s.webhook_ms.p99).padStart(7)}   ${f(s.edge_cpu_ms_per_event, 2).padStart(8)} ms   ${f(s.cpu_seconds.outside!, 1).padStart(8)}${s.undelivered ? `   ${s.undelivered} undelivered` : ""}`,
    ),
    `  p99 passes ${LIMIT_MS} ms at: ${passed ? `${passed.rate} events/s` : `not within ${RATES.at(-1)} events/s`}`,
    `  edge CPU per event, all steps: ${f((1000 * totalCpu) / Math.max(1, totalEvents), 2)} ms (workerd ${f(totalCpu, 2)} s for ${totalEvents} events)`,
    `  per-number order broken ${problems.reduce((a, p) => a + p.outOfOrder, 0)}   repeated on a stream ${problems.reduce((a, p) => a + p.repeated, 0)}   undelivered ${steps.reduce((a, s) => a + s.undelivered, 0)}`,
  ];
  printReport(lines, opts.json ? { shards: SHARDS, listeners: LISTENERS, webhooks: WEBHOOKS, numbers: NUMBERS, seconds: SECONDS, passes_at: passed?.rate ?? null, steps, problems } : false);
  if (problems.some((p) => p.outOfOrder || p.repeated)) process.exitCode = 1;
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  if (edge) log(edge.tail());
  process.exitCode = 1;
} finally {
  if (edge && (process.exitCode === 1 || opts["keep-logs"])) log(`edge log: ${edge.logPath}`);
  await cleanup();
}

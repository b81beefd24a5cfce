/**
 * Send benchmark: `npm run bench:send -- --numbers 20 --messages 2000`
 *
 * Starts a fresh edge (temporary state), N crabline WhatsApp peers spread
 * over --peer-processes child processes (test/harness/peer-shard.ts; they stream
 * every decrypted message with the peer's own arrival stamp; their recorder
 * files on /dev/shm), the routing proxy and ONE fleet process; creates a project with
 * pacing off, caps raised and no warming, N instances, imports N sessions and
 * waits for all connected. Then:
 *
 *  0. Accept latency at a steady load: --probe-messages requests sent on a
 *     fixed schedule, --probe-rate per second (open loop: a slow answer does
 *     not slow the next request down), so the figure is the accept path's
 *     latency, not the queueing of an overloaded machine. The target
 *     (p99 < 50 ms) is checked here.
 *  1. Pipeline: M text messages through `POST /messages/text` with a fixed
 *     client concurrency, each with a unique body, to K distinct customer
 *     JIDs with default (sticky) routing. Per request: accept latency
 *     (request start -> 202 read). Per message: accept-to-peer latency (202 ->
 *     the peer decrypted it; matched by body; the peer stamps the time).
 *     Pipeline throughput = M / (first request -> last arrival). Lost =
 *     accepted but never arrived; duplicated = one WhatsApp id recorded twice,
 *     or one body under two ids. The API's view is checked too: every message
 *     `sent`, under the WhatsApp id that arrived.
 *  2. Raw: the fleet is stopped (SIGTERM, waited for), and N bare Baileys
 *     sockets (bench/raw-sender.ts, its own process, in-memory keys) connect
 *     with the SAME creds through the same proxy to the same peers and send M
 *     messages, each number the messages it sent in the pipeline. Sequential:
 *     one in flight per number, i.e. the next send after the server's ack
 *     (Baileys' sendMessage resolves once the frame is written, which is no
 *     flow control: the test peer closes a connection that queues 32 frames).
 *     Raw throughput = M / (first send -> last arrival). Then, with fresh
 *     sockets, every message of a socket in flight at once (or --raw-window W),
 *     for reference. Each phase talks to its own K customers (same spread
 *     over the numbers), so each starts cold: new Signal sessions, new peer bundles.
 *
 * Prints the figures, the pipeline/raw ratio, the CPU seconds each process
 * used (where the time goes; the edge's busiest threads) and whether the
 * targets hold (issue 15: pipeline >= 80% of raw sequential; accept p99 < 50 ms).
 *
 * Options: --numbers N (20)  --messages M (2000)  --concurrency C (32)
 *          --probe-rate R (10 req/s)  --probe-messages P (200; 0 skips the phase)
 *          --customers K (200)  --json (also print a JSON summary)
 *          --no-raw (pipeline only)  --raw-window W (0 = unlimited)  --keep-logs
 *          --peer-processes P (2: the peers cost about as much CPU as the senders)
 * Diagnostics:
 *          --split  hold the queues (hourly cap 1) while accepting, then lift the
 *                   cap: accept-only and drain-only figures apart
 *          --edge-profile=<file>  CPU profile of the edge's Worker isolate over the
 *                   pipeline (with --split: <file>.accept / <file>.drain), summary on stderr
 *          --edge-tmpfs  the edge's local D1 / Durable Object state on /dev/shm
 *          --fleet-node-args="<flags>" (e.g. --fleet-node-args=--cpu-prof)
 * Exit code 1 if the pipeline or the sequential raw run lost, duplicated or
 * failed to send messages, or timed out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { commandLine, int, printReport, REPORT_OPTIONS, runBench } from "../test/harness/cli.ts";
import { duplicates, stats } from "../test/harness/figures.ts";
import { type ArrivalLog, type Arrival, PeerProcesses } from "../test/harness/peer-processes.ts";
import { makeCreds } from "../test/harness/peers.ts";
import { openLoop, pool } from "../test/harness/schedule.ts";
import { BENCH_KEY_BUDGET, type Stack, startStack } from "../test/harness/stack.ts";
import { sleep, waitFor } from "../test/harness/waits.ts";
import { inspectorPortOf, startEdgeProfile, writeEdgeProfile } from "./edge-profiler.ts";
import { cpuMeter, edgeWorkerdCpu, groupCpuByName, groupCpuSeconds, groupThreadCpu, machineCpuSeconds, pidCpuSeconds, selfCpuSeconds, threadDelta } from "./proc-usage.ts";
import { type RawPlan, type RawDone, RawSender } from "./raw-sender-process.ts";

// The peers' signal library logs sessions with console.log: keep stdout for the report.
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = () => {};

const opts = commandLine(
  "usage: npm run bench:send -- [--numbers 20] [--messages 2000] [--concurrency 32] [--customers 200] [--probe-rate 10] [--probe-messages 200]\n" +
    "         [--json] [--no-raw] [--raw-window 0]\n" +
    "         [--peer-processes 2] [--keep-logs] [--split] [--edge-profile=<file>] [--edge-tmpfs] [--fleet-node-args=\"<flags>\"]\n",
  {
    numbers: { type: "string", default: "20" },
    messages: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
    "probe-rate": { type: "string", default: "10" },
    "probe-messages": { type: "string", default: "200" },
    customers: { type: "string", default: "200" },
    ...REPORT_OPTIONS,
    "no-raw": { type: "boolean", default: false },
    "fleet-node-args": { type: "string", default: "" },
    "edge-profile": { type: "string", default: "" },
    split: { type: "boolean", default: false },
    "peer-processes": { type: "string", default: "2" },
    "raw-window": { type: "string", default: "0" },
    "edge-tmpfs": { type: "boolean", default: false },
  },
);
const N = int("numbers", opts.numbers!, 1);
const M = int("messages", opts.messages!, 1);
const CONCURRENCY = int("concurrency", opts.concurrency!, 1);
/** The latency phase: requests sent on a fixed schedule (open loop) at this rate. */
const PROBE_RATE = int("probe-rate", opts["probe-rate"]!, 1);
const PROBE_MESSAGES = int("probe-messages", opts["probe-messages"]!, 0);
const CUSTOMERS = Math.min(int("customers", opts.customers!, 1), 99_999);
const RAW = !opts["no-raw"];
const PEER_PROCESSES = int("peer-processes", opts["peer-processes"]!, 1);
const SPLIT = opts.split!;
/** In-flight messages per socket in the second raw run: 0 = no limit. */
const RAW_WINDOW = int("raw-window", opts["raw-window"]!, 0);
const FLEET_NODE_ARGS = opts["fleet-node-args"]!.split(/\s+/).filter(Boolean);

const CONNECT_TIMEOUT_MS = 30_000 + N * 1_000;
/** A phase waits this long for its arrivals, and gives up earlier if nothing arrives for STALL_MS. */
const ARRIVAL_TIMEOUT_MS = 60_000 + M * 100;
const STALL_MS = 30_000;
/** Issue 15's throughput target: the pipeline at this share of raw Baileys, sequential (one in flight per number). */
const THROUGHPUT_TARGET = 0.8;
/** Issue 15: edge CPU per sent message, in ms. */
const EDGE_CPU_TARGET_MS = 6;
/** Hard ceiling for the whole run. */
const OVERALL_TIMEOUT_MS = 180_000 + CONNECT_TIMEOUT_MS + 3 * ARRIVAL_TIMEOUT_MS;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------- helpers

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

type Delivery = {
  /** Messages with a body of this phase seen at least once, by body. */
  firstArrival: Map<string, Arrival>;
  arrivals: Arrival[];
  timedOut: boolean;
};

/**
 * Waits until every body in `bodies` arrived once, or ARRIVAL_TIMEOUT_MS
 * passes, or nothing new arrives for STALL_MS (while `busy()` is false).
 */
async function awaitArrivals(
  arrivals: ArrivalLog,
  bodies: Set<string>,
  what: string,
  opts: { busy?: () => boolean; expected?: () => number | null } = {},
): Promise<Delivery> {
  const busy = opts.busy ?? (() => false);
  const firstArrival = new Map<string, Arrival>();
  const mine: Arrival[] = [];
  const deadline = Date.now() + ARRIVAL_TIMEOUT_MS;
  let lastProgress = Date.now();
  let lastLog = Date.now();
  for (;;) {
    const fresh = arrivals.poll().filter((a) => a.text !== null && bodies.has(a.text));
    for (const a of fresh) {
      mine.push(a);
      if (!firstArrival.has(a.text!)) firstArrival.set(a.text!, a);
    }
    if (fresh.length || busy()) lastProgress = Date.now();
    if (firstArrival.size >= bodies.size) {
      // Late duplicates show up right behind the originals: look a moment longer.
      await sleep(500);
      for (const a of arrivals.poll().filter((x) => x.text !== null && bodies.has(x.text))) mine.push(a);
      return { firstArrival, arrivals: mine, timedOut: false };
    }
    const now = Date.now();
    const expected = opts.expected?.() ?? null;
    const settled = expected !== null && firstArrival.size >= expected && now - lastProgress > 2_000;
    if (now > deadline || now - lastProgress > STALL_MS || settled) {
      log(
        `${what}: TIMED OUT after ${f((now - (deadline - ARRIVAL_TIMEOUT_MS)) / 1000)} s ` +
          `(${now > deadline ? "time limit" : settled ? "everything the senders got acknowledged is here" : `nothing arrived for ${STALL_MS / 1000} s`}): ` +
          `${firstArrival.size}/${bodies.size} arrived, ${bodies.size - firstArrival.size} missing`,
      );
      return { firstArrival, arrivals: mine, timedOut: true };
    }
    if (now - lastLog > 5_000) {
      log(`${what}: ${firstArrival.size}/${bodies.size} arrived`);
      lastLog = now;
    }
    await sleep(50); // arrival times are the peers' own stamps: the poll interval does not blur them
  }
}

function spread(perPeer: number[]) {
  return { min: Math.min(...perPeer), max: Math.max(...perPeer), per_number: perPeer };
}

/** How busy the whole machine was, and how much of that was not ours (other processes skew a benchmark). */
function machineLine(cpu: Record<string, number>, wallSeconds: number): string {
  const ours = Object.entries(cpu).filter(([k]) => k !== "machine").reduce((a, [, v]) => a + v, 0);
  const cores = cpus().length;
  return `machine ${f((100 * cpu.machine!) / (wallSeconds * cores), 0)}% of ${cores} cores busy, ${f(Math.max(0, cpu.machine! - ours), 2)} s CPU outside our processes (kernel, other jobs)`;
}

// ---------------------------------------------------------------- run

let stack: Stack<PeerProcesses> | undefined;
let edgeState: string | undefined;
const raws = new Set<RawSender>();

async function cleanup() {
  await Promise.allSettled([...raws].map((r) => r.stop()));
  if (stack) {
    stack.keepLogs = opts["keep-logs"] || process.exitCode === 1;
    if (stack.keepLogs) log(`logs kept in ${stack.logDir}`);
    await stack.stop();
  }
  if (edgeState) rmSync(edgeState, { recursive: true, force: true });
}

const failures: string[] = [];
const notes: string[] = [];

await runBench(log, { timeoutMs: OVERALL_TIMEOUT_MS, cleanup, diagnostics: () => stack?.diagnostics() }, async () => {
  log(`N=${N} M=${M} concurrency=${CONCURRENCY} customers=${CUSTOMERS}`);
  // --edge-tmpfs: the edge's local D1 / Durable Object state on /dev/shm (no disk flushes).
  edgeState = opts["edge-tmpfs"] ? mkdtempSync("/dev/shm/pombo-bench-edge-") : undefined;
  stack = await startStack("bench-send", await PeerProcesses.start(N, PEER_PROCESSES), { persistTo: edgeState, keyBudget: BENCH_KEY_BUDGET });
  const { edge, peers, proxy, api } = stack;
  log(`${N} peers up in ${Math.min(N, PEER_PROCESSES)} process(es), edge on ${edge.url}, logs in ${stack.logDir}`);

  const fleet = stack.fleet({ fleetId: "bench-fleet", logLevel: process.env.POMBO_LOG_LEVEL ?? "warn", nodeArgs: FLEET_NODE_ARGS });
  await stack.waitRegistered(fleet, 30_000);
  await api.call("PATCH", "/settings", {
    pacing: { enabled: false },
    caps: { hourly: 100_000, daily: 1_000_000 },
    warming_days: 0,
  });

  const instances = await stack.createInstances(N, { concurrency: 8 });
  const indexOf = new Map(instances.map((inst, i) => [inst.id, i]));
  // The same creds go to the raw senders later: same numbers, same peers.
  const creds = instances.map((_, i) => makeCreds(peers.peers[i]!.phone));
  const importStart = performance.now();
  await pool(instances, 8, async (inst, i) => {
    await api.importSession(inst.id, creds[i]!);
  });
  await stack.waitConnected(
    instances.map((i) => i.id),
    CONNECT_TIMEOUT_MS,
    undefined,
    100,
  );
  log(`all ${N} connected ${f((performance.now() - importStart) / 1000, 2)} s after the first import`);

  // Each phase talks to its own customers (same count, same spread over the numbers), so that every
  // phase starts cold on both sides: new Signal sessions for the senders, new key bundles at the peers.
  const customersFrom = (base: number) => {
    const phones = Array.from({ length: CUSTOMERS }, (_, k) => String(base + 1 + k));
    peers.register(phones);
    return phones.map((phone) => `${phone}@s.whatsapp.net`);
  };
  const customers = customersFrom(5511988880000);
  const rawCustomers = { sequential: customersFrom(5511977770000), unlimited: customersFrom(5511966660000) };
  const arrivals = peers.arrivals;
  const peersCpu = () => peers.pids().reduce((a, pid) => a + (pidCpuSeconds(pid) || 0), 0);
  arrivals.poll(); // anything from the connect phase is not ours

  // ------------------------------------------------------------ accept latency at a steady load
  const probeLatency: number[] = [];
  let probeRejected = 0;
  if (PROBE_MESSAGES > 0) {
    const probeCustomers = customersFrom(5511955550000);
    const probeBodies = Array.from({ length: PROBE_MESSAGES }, (_, i) => `probe ${i}`);
    log(`probe: ${PROBE_MESSAGES} requests at ${PROBE_RATE}/s (open loop)`);
    await openLoop(PROBE_MESSAGES, PROBE_RATE, async (i) => {
      const t0 = performance.now();
      const r = await api.raw("POST", "/messages/text", { to: probeCustomers[i % CUSTOMERS], body: probeBodies[i] });
      if (r.status === 202) probeLatency.push(performance.now() - t0);
      else probeRejected++;
    });
    await awaitArrivals(arrivals, new Set(probeBodies), "probe");
  }
  const probe = stats(probeLatency);

  // ------------------------------------------------------------ pipeline
  type Sent = { index: number; id: string; instance: number; startAt: number; acceptedAt: number; latencyMs: number };
  const sent: (Sent | undefined)[] = new Array(M);
  const pipelineBodies = Array.from({ length: M }, (_, i) => `bench ${i}`);
  const bodyIndex = new Map(pipelineBodies.map((b, i) => [b, i]));
  let rejected = 0;
  let firstRejection = "";
  const edgePort = Number(new URL(edge.url).port);
  const cpuPipeline = cpuMeter({
    edge_workerd: () => edgeWorkerdCpu(edge.pid, edgePort).runtime,
    edge_devproxy: () => edgeWorkerdCpu(edge.pid, edgePort).devProxy,
    edge_wrangler: () => groupCpuSeconds(edge.pid) - (groupCpuByName(edge.pid).workerd ?? 0),
    fleet: () => groupCpuSeconds(fleet.pid),
    peers: peersCpu,
    bench: selfCpuSeconds,
    machine: machineCpuSeconds,
  });
  // --split: hold every queue (an hourly cap of 1: each number sends one message), accept all M, then lift the cap.
  if (SPLIT) await api.call("PATCH", "/settings", { caps: { hourly: 1 } });
  const connectionsBefore = instances.map((inst) => proxy.connectionsTotal(inst.id));
  const edgeThreadsBefore = groupThreadCpu(edge.pid);
  let edgeProfile = opts["edge-profile"] ? await startEdgeProfile(inspectorPortOf(edge.pid)) : null;
  let accepting = true;
  const pipelineStart = Date.now();
  log(`pipeline: sending ${M} messages at concurrency ${CONCURRENCY}`);
  const acceptPhase = pool(pipelineBodies, CONCURRENCY, async (body, i) => {
    const startAt = Date.now();
    const t0 = performance.now();
    try {
      const r = await api.raw<{ id: string; instance_id: string }>("POST", "/messages/text", { to: customers[i % CUSTOMERS], body });
      const latencyMs = performance.now() - t0;
      if (r.status !== 202) {
        rejected++;
        firstRejection ||= `${r.status} ${JSON.stringify(r.body)}`;
        return;
      }
      sent[i] = { index: i, id: r.body.id, instance: indexOf.get(r.body.instance_id) ?? -1, startAt, acceptedAt: Date.now(), latencyMs };
    } catch (err) {
      rejected++;
      firstRejection ||= (err as Error).message;
    }
  }).finally(() => (accepting = false));
  let drainStart = 0;
  let cpuAcceptOnly: Record<string, number> | null = null;
  let edgeThreadsAcceptOnly: [string, number][] = [];
  if (SPLIT) {
    await acceptPhase;
    cpuAcceptOnly = cpuPipeline.stop();
    edgeThreadsAcceptOnly = threadDelta(edgeThreadsBefore, groupThreadCpu(edge.pid)).slice(0, 2);
    if (edgeProfile) {
      await writeEdgeProfile(log, await edgeProfile.stop(), "accepts", opts["edge-profile"]!.replace(/(\.cpuprofile)?$/, ".accept.cpuprofile"));
      edgeProfile = await startEdgeProfile(inspectorPortOf(edge.pid));
    }
    await sleep(1_000);
    log("pipeline: all accepted; lifting the hourly cap to drain the queues");
    drainStart = Date.now();
    await api.call("PATCH", "/settings", { caps: { hourly: 100_000 } });
  }
  const pipelineDelivery = await awaitArrivals(arrivals, new Set(pipelineBodies), "pipeline", { busy: () => accepting });
  await acceptPhase;
  const cpuPipelineUsed = cpuPipeline.stop();
  // workerd runs the Worker, its Durable Objects and local D1: is one thread the ceiling?
  const edgeThreads = threadDelta(edgeThreadsBefore, groupThreadCpu(edge.pid)).slice(0, 3);
  if (edgeProfile) await writeEdgeProfile(log, await edgeProfile.stop(), SPLIT ? "drain" : "pipeline", opts["edge-profile"]!.replace(/(\.cpuprofile)?$/, SPLIT ? ".drain.cpuprofile" : ".cpuprofile"));
  // New connections during the phase: the peer (or the fleet) dropped a socket, and the fleet dialled again.
  const reconnects = instances.map((inst, k) => proxy.connectionsTotal(inst.id) - connectionsBefore[k]!);
  const reconnectTotal = reconnects.reduce((a, b) => a + b, 0);
  const acceptEnd = Math.max(...sent.map((s) => s?.acceptedAt ?? 0));

  const accepted = sent.filter((s): s is Sent => s !== undefined);
  const acceptLatency = stats(accepted.map((s) => s.latencyMs));
  const toPeer: number[] = [];
  let lastPipelineArrival = 0;
  for (const [body, a] of pipelineDelivery.firstArrival) {
    const s = sent[bodyIndex.get(body)!];
    lastPipelineArrival = Math.max(lastPipelineArrival, a.at);
    if (s) toPeer.push(a.at - s.acceptedAt);
  }
  const missingAccepted = accepted.filter((s) => !pipelineDelivery.firstArrival.has(pipelineBodies[s.index]!));
  const lost = missingAccepted.length;
  const pipelineDup = duplicates(pipelineDelivery.arrivals);
  const wrongNumber = [...pipelineDelivery.firstArrival].filter(([body, a]) => {
    const s = sent[bodyIndex.get(body)!];
    return s && s.instance !== a.peer;
  }).length;
  const perPeerPipeline = instances.map(() => 0);
  for (const a of pipelineDelivery.firstArrival.values()) perPeerPipeline[a.peer]!++;
  const acceptSeconds = (acceptEnd - pipelineStart) / 1000;
  const pipelineSeconds = (lastPipelineArrival - pipelineStart) / 1000;
  const drained = [...pipelineDelivery.firstArrival.values()].filter((a) => a.at >= drainStart);
  const drainSeconds = (lastPipelineArrival - drainStart) / 1000;
  const drainRate = drained.length / drainSeconds;
  // Split: the send loops' own rate (queues full, no accepts) is what compares with raw.
  // With losses the rate is over what was delivered (and flagged): M / time would flatter a pipeline that drops messages.
  const pipelineRate = SPLIT ? drainRate : pipelineDelivery.firstArrival.size / pipelineSeconds;
  if (rejected) failures.push(`pipeline: ${rejected} request(s) not accepted; first: ${firstRejection}`);
  const reconnectedNumbers = reconnects.filter((x) => x > 0).length;
  if (pipelineDelivery.timedOut) {
    const lostOn = new Set(missingAccepted.map((s) => s.instance));
    const lostOnReconnected = [...lostOn].filter((k) => k >= 0 && reconnects[k]! > 0).length;
    failures.push(
      `pipeline: ${lost} accepted message(s) never arrived, on ${lostOn.size} number(s), ${lostOnReconnected} of which reconnected during the phase ` +
        `(${reconnectTotal} reconnects on ${reconnectedNumbers} numbers)`,
    );
  }
  if (pipelineDup.sameId || pipelineDup.bodiesTwice) failures.push(`pipeline: duplicates (${pipelineDup.sameId} same id, ${pipelineDup.bodiesTwice} bodies twice)`);
  if (wrongNumber) failures.push(`pipeline: ${wrongNumber} message(s) arrived from another number than the one the API named`);
  if (pipelineDelivery.timedOut) {
    // Say where the missing ones are stuck.
    const lostPer = instances.map(() => 0);
    for (const s of missingAccepted) if (s.instance >= 0) lostPer[s.instance]!++;
    log(`  lost per number: ${lostPer.join(",")}; reconnects per number: ${reconnects.join(",")}`);
    for (const s of missingAccepted.slice(0, 5)) {
      const m = await api.raw<{ status: string; reason: string | null; instance_id: string }>("GET", `/messages/${s.id}`);
      log(`  missing ${s.id} (number ${s.instance}): ${m.status} ${JSON.stringify(m.body)}`.slice(0, 400));
    }
  }
  log(
    `pipeline: ${accepted.length}/${M} accepted in ${f(acceptSeconds, 2)} s, ` +
      `${pipelineDelivery.firstArrival.size} arrived, last ${f(pipelineSeconds, 2)} s after the first request`,
  );

  // The API's own view: every message `sent`, under the WhatsApp id that arrived.
  let apiSent = 0;
  let idMismatch = 0;
  const apiSentIds = new Set<string>();
  const arrivedIds = new Map([...pipelineDelivery.firstArrival].map(([body, a]) => [body, a.waId]));
  const statusDeadline = Date.now() + 15_000;
  let pending = [...accepted];
  while (pending.length && Date.now() < statusDeadline) {
    const still: Sent[] = [];
    await pool(pending, 16, async (s) => {
      const r = await api.raw<{ status: string; wa_message_id: string }>("GET", `/messages/${s.id}`);
      if (r.status === 200 && r.body.status === "sent") {
        apiSent++;
        apiSentIds.add(s.id);
        const waId = arrivedIds.get(pipelineBodies[s.index]!);
        if (waId && waId !== r.body.wa_message_id) idMismatch++;
      } else still.push(s);
    });
    pending = still;
    if (pending.length) await sleep(500);
  }
  if (pending.length) failures.push(`pipeline: ${pending.length} message(s) not "sent" in the API 15 s after the run`);
  const lostButSent = missingAccepted.filter((s) => apiSentIds.has(s.id)).length;
  if (lostButSent) failures.push(`pipeline: ${lostButSent} message(s) the API reports "sent" never reached WhatsApp (the peer)`);
  if (idMismatch) failures.push(`pipeline: ${idMismatch} message(s) arrived under another WhatsApp id than the API reports`);

  // ------------------------------------------------------------ raw
  type RawResult = {
    mode: "sequential" | "unlimited";
    rate: number;
    seconds: number;
    sendSeconds: number;
    arrived: number;
    lost: number;
    dup: ReturnType<typeof duplicates>;
    errors: number;
    firstError: string;
    closed: number;
    latency: ReturnType<typeof stats>;
    perNumber: ReturnType<typeof spread>;
    cpu: Record<string, number>;
  };
  const rawResults: RawResult[] = [];
  if (RAW) {
    log("raw: stopping the fleet");
    const code = await fleet.stop(15_000);
    if (code !== 0) log(`fleet exited with ${code}`);
    await waitFor(() => instances.every((inst) => proxy.liveCount(inst.id) === 0), 10_000, { what: "the fleet's sockets to close" });

    // The pipeline's assignment: each number sends what it sent through the API.
    const shareOf = (i: number) => {
      const k = sent[i]?.instance ?? -1;
      return k >= 0 ? k : i % N;
    };
    for (const mode of ["sequential", "unlimited"] as const) {
      const tag = mode === "sequential" ? "raw-seq" : "raw-all";
      const bodies = Array.from({ length: M }, (_, i) => `${tag} ${i}`);
      const plan: RawPlan = {
        window: mode === "sequential" ? 1 : RAW_WINDOW,
        numbers: instances.map((inst, k) => ({
          url: proxy.waUrl(peers.accessToken).replace("{instance_id}", inst.id),
          creds: creds[k]!,
          messages: [],
        })),
      };
      for (const [i, body] of bodies.entries()) plan.numbers[shareOf(i)]!.messages.push({ to: rawCustomers[mode][i % CUSTOMERS]!, body });

      // Fresh sockets and in-memory keys for each mode: both start cold, as the pipeline did.
      const raw = new RawSender();
      raws.add(raw);
      raw.send(JSON.stringify(plan));
      const ready = await raw.next<{ type: "ready"; connect_ms: number }>(90_000, "ready");
      log(`raw ${mode}: ${N} sockets open in ${ready.connect_ms} ms, sending`);
      await sleep(500);
      arrivals.poll();
      const meter = cpuMeter({ raw: () => pidCpuSeconds(raw.pid), peers: peersCpu, bench: selfCpuSeconds, edge: () => groupCpuSeconds(edge.pid), machine: machineCpuSeconds });
      raw.send("go");
      let done: RawDone | undefined;
      const donePromise = raw.next<RawDone>(ARRIVAL_TIMEOUT_MS, "done").then((d) => (done = d));
      donePromise.catch(() => {});
      const delivery = await awaitArrivals(arrivals, new Set(bodies), `raw ${mode}`, {
        busy: () => done === undefined,
        // Once the senders are done, what was acknowledged is all that can come.
        expected: () => (done ? done.acked : null),
      });
      const cpu = meter.stop();
      await donePromise;
      await raw.stop();
      raws.delete(raw);

      let last = 0;
      for (const a of delivery.firstArrival.values()) last = Math.max(last, a.at);
      const seconds = (last - done!.started_at) / 1000;
      const perPeer = instances.map(() => 0);
      for (const a of delivery.firstArrival.values()) perPeer[a.peer]!++;
      const dup = duplicates(delivery.arrivals);
      const result: RawResult = {
        mode,
        rate: delivery.timedOut ? NaN : M / seconds,
        seconds,
        sendSeconds: (done!.finished_at - done!.started_at) / 1000,
        arrived: delivery.firstArrival.size,
        lost: M - delivery.firstArrival.size,
        dup,
        errors: done!.errors,
        firstError: done!.first_error,
        closed: done!.closed,
        // Raw has no accept step: from the first send, so a message queued behind its number's earlier ones counts that wait.
        latency: stats([...delivery.firstArrival.values()].map((a) => a.at - done!.started_at)),
        perNumber: spread(perPeer),
        cpu,
      };
      rawResults.push(result);
      log(
        `raw ${mode}: ${result.arrived}/${M} arrived, last ${f(seconds, 2)} s after the first send ` +
          `(${done!.acked} acked, ${done!.errors} errors${done!.first_error ? `, first: ${done!.first_error}` : ""}; ${done!.closed} connections closed)`,
      );
      // Unlimited is a reference only: the test peer closes a connection that queues 32 frames (crabline's inbound backlog limit).
      const problems = mode === "sequential" ? failures : notes;
      if (result.lost) problems.push(`raw ${mode}: ${result.lost} message(s) never arrived (${done!.closed} connection(s) closed by the peer)`);
      if (done!.errors) problems.push(`raw ${mode}: ${done!.errors} send error(s); first: ${done!.first_error}`);
      if (dup.sameId || dup.bodiesTwice) failures.push(`raw ${mode}: duplicates (${dup.sameId} same id, ${dup.bodiesTwice} bodies twice)`);
    }
  }

  // ------------------------------------------------------------ report
  const acceptRate = accepted.length / acceptSeconds;
  const toPeerStats = stats(toPeer);
  const seq = rawResults.find((r) => r.mode === "sequential");
  const par = rawResults.find((r) => r.mode === "unlimited");
  const ratio = seq ? pipelineRate / seq.rate : NaN;
  const pSpread = spread(perPeerPipeline);
  const wall = (x: number) => `${f(x, 2)} s CPU`;
  const pipelineWall = (lastPipelineArrival - pipelineStart) / 1000;
  // The headline: what the edge (every Worker isolate and Durable Object, and locally the D1/R2/queue simulators in the same workerd) spends per message sent;
  // wrangler's dev proxy in front of it is shown apart (proc-usage.ts edgeWorkerdCpu).
  const edgeCpuPerSent = (1000 * cpuPipelineUsed.edge_workerd!) / Math.max(1, accepted.length);
  const meets = {
    // A pipeline that loses messages does not meet a throughput target, whatever its rate.
    throughput: Number.isFinite(ratio) ? ratio >= THROUGHPUT_TARGET && lost === 0 : null,
    accept_p99: PROBE_MESSAGES > 0 && probeRejected === 0 && probe.p99 < 50,
    edge_cpu: edgeCpuPerSent <= EDGE_CPU_TARGET_MS,
  };
  const yesNo = (v: boolean | null) => (v === null ? "n/a" : v ? "met" : "NOT met");

  const out = [
    "",
    "Pombo send benchmark",
    `  node                 ${process.version}; N ${N} numbers, M ${M} messages, concurrency ${CONCURRENCY}, ${CUSTOMERS} customers (sticky routing)`,
    ...(PROBE_MESSAGES > 0
      ? [
          `  accept at a steady ${PROBE_RATE} req/s (open loop, ${PROBE_MESSAGES} requests)`,
          `    accept latency     ms p50 ${f(probe.p50)} | p99 ${f(probe.p99)} | max ${f(probe.max)}  (request start -> 202; ${probeRejected} refused)`,
        ]
      : []),
    `  edge CPU per sent   ${f(edgeCpuPerSent, 2)} ms  (workerd runtime ${f(cpuPipelineUsed.edge_workerd!, 2)} s for ${accepted.length} accepted: accept, send, receipts, events; ` +
      `+ ${f((1000 * cpuPipelineUsed.edge_devproxy!) / Math.max(1, accepted.length), 2)} ms in wrangler's dev proxy, which Cloudflare does not run)`,
    SPLIT ? "  pipeline, split (--split): accept everything with the queues held, then drain" : "  pipeline (API -> edge -> fleet -> peer)",
    `    accepted           ${accepted.length}/${M} (${rejected} refused) in ${f(acceptSeconds, 2)} s: ${f(acceptRate)} req/s`,
    `    accept latency     ms p50 ${f(acceptLatency.p50)} | p99 ${f(acceptLatency.p99)} | max ${f(acceptLatency.max)}  (request start -> 202, ${CONCURRENCY} clients flat out: includes queueing)`,
    `    accept -> peer     ms p50 ${f(toPeerStats.p50)} | p99 ${f(toPeerStats.p99)} | max ${f(toPeerStats.max)}  (202 -> the peer decrypted it)`,
    SPLIT
      ? `    drain only         ${f(drainRate)} msg/s  (${drained.length} messages queued on ${N} numbers: cap lifted -> last arrival, ${f(drainSeconds, 2)} s; accepts held the queues)`
      : `    throughput         ${f(pipelineRate)} msg/s  (${lost ? `DELIVERED ONLY: ${pipelineDelivery.firstArrival.size}` : "M"} / first request -> last arrival, ${f(pipelineSeconds, 2)} s)`,
    `    lost / duplicated  ${lost} lost; ${pipelineDup.sameId} repeated WhatsApp ids, ${pipelineDup.bodiesTwice} bodies under two ids; ${wrongNumber} from an unexpected number`,
    `    API status         ${apiSent}/${accepted.length} "sent" (${lostButSent} of them never arrived), ${idMismatch} WhatsApp id mismatches`,
    `    spread             per number min ${pSpread.min} | max ${pSpread.max}`,
    `    reconnects         ${reconnectTotal} new WhatsApp connection(s) during the phase (${reconnects.filter((x) => x > 0).length} numbers)`,
    `    CPU                edge: workerd ${wall(cpuPipelineUsed.edge_workerd!)}, dev proxy ${wall(cpuPipelineUsed.edge_devproxy!)}, wrangler ${wall(cpuPipelineUsed.edge_wrangler!)} | fleet ${wall(cpuPipelineUsed.fleet!)} | peers ${wall(cpuPipelineUsed.peers!)} | bench (proxy+client) ${wall(cpuPipelineUsed.bench!)}  over ${f(pipelineWall, 2)} s wall; ${machineLine(cpuPipelineUsed, pipelineWall)}`,
    ...(cpuAcceptOnly
      ? [
          `    CPU, accepts only  edge: workerd ${wall(cpuAcceptOnly.edge_workerd!)}, dev proxy ${wall(cpuAcceptOnly.edge_devproxy!)}, wrangler ${wall(cpuAcceptOnly.edge_wrangler!)} | fleet ${wall(cpuAcceptOnly.fleet!)} | peers ${wall(cpuAcceptOnly.peers!)} | bench ${wall(cpuAcceptOnly.bench!)} over ${f(acceptSeconds, 2)} s; ` +
            `busiest edge thread ${f(edgeThreadsAcceptOnly[0]?.[1] ?? NaN, 2)} s (${f((100 * (edgeThreadsAcceptOnly[0]?.[1] ?? NaN)) / acceptSeconds, 0)}%)`,
        ]
      : []),
    `    edge threads       busiest: ${edgeThreads.map(([k, v]) => `${k.replace(/#\d+$/, "")} ${f(v, 2)} s (${f((100 * v) / pipelineWall, 0)}% of the wall time)`).join(" | ")}`,
    ...rawResults.flatMap((r) => [
      `  raw Baileys, ${r.mode === "sequential" ? "sequential (one in flight per number: next send after the server ack)" : RAW_WINDOW ? `${RAW_WINDOW} in flight per number (--raw-window)` : "unlimited (every message of a socket handed over at once)"}`,
      `    throughput         ${f(r.rate)} msg/s  (M / first send -> last arrival, ${f(r.seconds, 2)} s; sends returned after ${f(r.sendSeconds, 2)} s)`,
      `    send -> peer       ms p50 ${f(r.latency.p50)} | p99 ${f(r.latency.p99)} | max ${f(r.latency.max)}  (from the first send)`,
      `    lost / duplicated  ${r.lost} lost, ${r.errors} send errors, ${r.closed} connections closed; ${r.dup.sameId} repeated ids, ${r.dup.bodiesTwice} bodies twice; per number min ${r.perNumber.min} | max ${r.perNumber.max}`,
      `    CPU                raw senders ${wall(r.cpu.raw!)} | peers ${wall(r.cpu.peers!)} | bench (proxy) ${wall(r.cpu.bench!)} | edge (idle) ${wall(r.cpu.edge!)}  over ${f(r.seconds, 2)} s wall; ${machineLine(r.cpu, r.seconds)}`,
    ]),
    seq ? `  pipeline / raw      ${f(ratio * 100)}%${lost ? " (pipeline delivered only)" : ""} of raw sequential${par ? `; raw ${RAW_WINDOW ? `window ${RAW_WINDOW}` : "unlimited"}: ${Number.isFinite(par.rate) ? `${f((pipelineRate / par.rate) * 100)}%` : "n/a (it lost messages)"}` : ""}` : "  pipeline / raw      n/a (--no-raw)",
    `  targets              pipeline >= ${f(THROUGHPUT_TARGET * 100, 0)}% of raw sequential: ${yesNo(meets.throughput)}${lost ? " (messages lost)" : ""}; accept p99 < 50 ms at ${PROBE_RATE} req/s: ${yesNo(meets.accept_p99)} (${f(probe.p99)} ms); edge CPU <= ${EDGE_CPU_TARGET_MS} ms per sent: ${yesNo(meets.edge_cpu)}`,
    ...(notes.length ? ["  notes", ...notes.map((x) => `    - ${x}`)] : []),
    ...(failures.length ? ["  FAILURES", ...failures.map((x) => `    - ${x}`)] : []),
    "",
  ];
  printReport(
    out,
    opts.json && {
      numbers: N,
      messages: M,
      concurrency: CONCURRENCY,
      customers: CUSTOMERS,
      split: SPLIT,
      pipeline: {
        accepted: accepted.length,
        refused: rejected,
        accept_seconds: acceptSeconds,
        accept_rate: acceptRate,
        accept_latency_ms: acceptLatency,
        steady_accept: { rate_per_s: PROBE_RATE, requests: PROBE_MESSAGES, refused: probeRejected, latency_ms: probe },
        accept_to_peer_ms: toPeerStats,
        seconds: pipelineSeconds,
        throughput: pipelineRate,
        ...(SPLIT ? { drain: { messages: drained.length, seconds: drainSeconds, rate: drainRate } } : {}),
        lost,
        duplicated: pipelineDup,
        wrong_number: wrongNumber,
        api_sent: apiSent,
        api_sent_but_lost: lostButSent,
        wa_id_mismatches: idMismatch,
        spread: pSpread,
        reconnects: reconnectTotal,
        cpu_seconds: cpuPipelineUsed,
        edge_cpu_ms_per_sent: edgeCpuPerSent,
        edge_busiest_threads: Object.fromEntries(edgeThreads),
      },
      raw: rawResults.map((r) => ({
        mode: r.mode,
        window: r.mode === "sequential" ? 1 : RAW_WINDOW,
        throughput: r.rate,
        seconds: r.seconds,
        send_seconds: r.sendSeconds,
        send_to_peer_ms: r.latency,
        lost: r.lost,
        send_errors: r.errors,
        first_error: r.firstError || null,
        connections_closed: r.closed,
        duplicated: r.dup,
        spread: r.perNumber,
        cpu_seconds: r.cpu,
      })),
      ratio_pipeline_to_raw_sequential: ratio,
      targets: meets,
      notes,
      failures,
    },
  );
  if (failures.length) process.exitCode = 1;
});

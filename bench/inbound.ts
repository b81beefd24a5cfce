/**
 * `npm run bench:inbound -- --numbers 10 --messages 5000`
 *
 * Inbound-to-webhook latency. N numbers run on one fleet against N loopback
 * WhatsApp peers; customers write to them at a steady rate (open loop: each
 * message leaves on schedule, whatever happened to the ones before), and a
 * webhook receiver on loopback checks every delivery's signature.
 *
 * Where the peers run: a number's peer plays WhatsApp and every customer
 * writing to that number, so it encrypts each received message (Signal, as
 * the customer's phone does) before the number's socket gets it. With
 * `--peer-processes P` (default 2) the numbers' peers run in P child
 * processes (test/harness/peer-shard.ts) and this process keeps the clock,
 * the webhook receiver and the report; `--peer-processes 0` runs them here,
 * as before, for comparing the two.
 *
 * The clock starts in this process when it asks the peer to send the message
 * (`sentAt`, just before the call to the peer or the line to its process) and
 * stops when this process's webhook receiver has read the signed delivery
 * for it (`receivedAt`, at the end of the request body, before answering):
 * the peer's encryption, the fleet, the edge (D1, Durable Objects, the event
 * hub), the HTTP delivery (and the queue for a retry), and the waits in this process's own
 * event loop at both ends are all inside it. The peer says when it had put
 * the message on the number's socket (its own clock): the "asked -> on the
 * socket" figure is the load generator's share.
 *
 * Every measured customer's first message is in the measurement unless
 * `--known-customers`: then each customer writes once during the warm-up,
 * at the same rate, and the measured messages all come from customers the
 * numbers already know (a business's steady state, where the default run
 * starts with a wave of first contacts: 500 new customers in 8 s at 60/s).
 *
 * Prints p50/p99/max, how many messages never arrived (lost), how many
 * arrived as two different events (duplicated) and how many deliveries were
 * retries of one event (same `webhook-id`, which receivers drop), and the
 * edge's CPU per received message (workerd, from the start of the injection
 * until the last webhook: storing, the event hub and deliveries),
 * and the CPU seconds of every process: edge, fleet, peers, this one.
 */
import { commandLine, int, onInterrupt, REPORT_OPTIONS } from "../test/harness/cli.ts";
import { stats } from "../test/harness/figures.ts";
import { type Injected, PeerProcesses } from "../test/harness/peer-processes.ts";
import type { PeerSet, Peers } from "../test/harness/peers.ts";
import type { InboundInjection } from "../test/peer/peer.ts";
import { openLoop, pool } from "../test/harness/schedule.ts";
import { type Stack, startStack } from "../test/harness/stack.ts";
import { waitFor } from "../test/harness/waits.ts";
import { WebhookReceiver } from "../test/harness/webhook-receiver.ts";
import { inspectorPortOf, startEdgeProfile, writeEdgeProfile } from "./edge-profiler.ts";
import { deliveriesOf, fleetLogTimes, timelineReport, timelines, writeTimeline } from "./inbound-timeline.ts";
import {
  cpuMeter,
  cpuWindows,
  edgeRuntimeWaitSeconds,
  edgeWorkerdCpu,
  groupCpuByName,
  groupCpuSeconds,
  machineCpuSeconds,
  pidCpuSeconds,
  selfCpuSeconds,
} from "./proc-usage.ts";

// The peers' signal library logs sessions with console.log: keep stdout for the report.
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = () => {};

const opts = commandLine(
  "usage: npm run bench:inbound -- [--numbers 10] [--messages 5000] [--rate 50] [--customers 500] [--peer-processes 2] [--known-customers] [--json] [--keep-logs] [--edge-profile=<file>] [--timeline] [--timeline-out=<file>]\n",
  {
    numbers: { type: "string", default: "10" },
    messages: { type: "string", default: "5000" },
    rate: { type: "string", default: "50" },
    customers: { type: "string", default: "500" },
    "peer-processes": { type: "string", default: "2" },
    "known-customers": { type: "boolean", default: false },
    ...REPORT_OPTIONS,
    "edge-profile": { type: "string", default: "" },
    // Each message's stages (bench/inbound-timeline.ts); --timeline-out also writes them, one JSON line each.
    timeline: { type: "boolean", default: false },
    "timeline-out": { type: "string", default: "" },
  },
);
const N = int("numbers", opts.numbers!, 1);
const M = int("messages", opts.messages!, 1);
const RATE = int("rate", opts.rate!, 1);
const CUSTOMERS = Math.min(int("customers", opts.customers!, 1), 99_999);
/** 0: the numbers' peers run in this process. */
const PEER_PROCESSES = int("peer-processes", opts["peer-processes"]!, 0);
const CONNECT_TIMEOUT_MS = 30_000 + N * 1_000;
/** After the last message is handed over, how long stragglers may take. */
const DRAIN_MS = 60_000;
/** Issue 15: edge CPU per received message, in ms. */
const EDGE_CPU_TARGET_MS = 10;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

let stack: Stack<PeerSet> | undefined;
const receiver = new WebhookReceiver();

async function cleanup() {
  if (stack) stack.keepLogs = opts["keep-logs"] || process.exitCode === 1;
  await Promise.allSettled([stack?.stop(), receiver.close()]);
}
onInterrupt(log, cleanup);

try {
  log(`N=${N} M=${M} rate=${RATE}/s customers=${CUSTOMERS} peer processes=${PEER_PROCESSES}`);
  const shards = PEER_PROCESSES > 0 ? await PeerProcesses.start(N, PEER_PROCESSES) : null;
  stack = shards ? await startStack("bench-inbound", shards) : await startStack("bench-inbound", N);
  const { edge, peers } = stack;
  // Both resolve once the peer has put the message on the number's socket.
  const injectVia: (peer: number, message: InboundInjection) => Promise<Injected> = shards
    ? (peer, message) => shards.inject(peer, message)
    : async (peer, message) => ({ waId: await (peers as Peers).peers[peer]!.inject(message), at: Date.now() });
  const peersCpu = () => (shards?.pids() ?? []).reduce((a, pid) => a + (pidCpuSeconds(pid) || 0), 0);
  log(`logs in ${stack.logDir}`);
  // The timeline reads when each message was spooled from the fleet's log: two info lines per message.
  const fleetLogLevel = process.env.POMBO_LOG_LEVEL ?? (opts.timeline || opts["timeline-out"] ? "info" : "warn");
  const fleet = stack.fleet({ fleetId: "bench-fleet", logLevel: fleetLogLevel });
  const hook = await receiver.subscribe(stack.api, ["message.received"]);

  const instances = await stack.createInstances(N, { concurrency: 8 });
  await pool(instances, 8, (inst, i) => stack!.importFor(inst, peers.peers[i]!));
  await stack.waitConnected(
    instances.map((i) => i.id),
    CONNECT_TIMEOUT_MS,
    undefined,
    200,
  );
  log(`all ${N} numbers connected`);

  // Customer k writes to number k % N; each message's text is its index, so arrivals map back exactly.
  const customers = Array.from({ length: CUSTOMERS }, (_, k) => `5511944${String(k + 1).padStart(6, "0")}@s.whatsapp.net`);
  const sentAt = new Map<string, number>();
  /** When the peer had put each message on the number's socket (the peer's clock). */
  const onSocketAt = new Map<string, number>();
  /** Each message's WhatsApp id, by its text. */
  const waIdOf = new Map<string, string>();
  let refused = 0;
  const inject = async (i: number, text = `bench ${i}`) => {
    const customer = customers[i % CUSTOMERS]!;
    // The clock starts here (see the header).
    sentAt.set(text, performance.now() + performance.timeOrigin);
    try {
      const { waId, at } = await injectVia((i % CUSTOMERS) % N, { chatJid: customer, senderJid: customer, text, pushName: "Bench" });
      onSocketAt.set(text, at);
      waIdOf.set(text, waId);
    } catch {
      refused++;
      sentAt.delete(text);
    }
  };

  // Warm-up (not measured): wakes every number's Durable Object and the hub, and JIT-compiles the path.
  // First contacts of the measured customers stay in the measurement (real customers write first messages
  // too), unless --known-customers: then every customer writes its first message here.
  const warmUp = opts["known-customers"] ? CUSTOMERS : 50;
  log(opts["known-customers"] ? `warm-up: a first message from each of the ${CUSTOMERS} customers at ${RATE}/s` : "warm-up: 50 messages");
  if (opts["known-customers"]) await openLoop(CUSTOMERS, RATE, (i) => inject(i, `warm-up ${i}`));
  else for (let i = 0; i < warmUp; i++) await inject(i % N, `warm-up ${i}`);
  await waitFor(() => receiver.events().length >= warmUp - refused, 30_000 + (1000 * warmUp) / RATE, { what: "warm-up deliveries" });
  sentAt.clear();
  onSocketAt.clear();
  receiver.deliveries.length = 0;
  refused = 0;

  const edgeProfile = opts["edge-profile"] ? await startEdgeProfile(inspectorPortOf(edge.pid)) : null;
  const edgePort = Number(new URL(edge.url).port);
  const cpu = cpuMeter({
    // The runtime only: wrangler's dev proxy, in front of it, is shown apart (proc-usage.ts edgeWorkerdCpu).
    edge_workerd: () => edgeWorkerdCpu(edge.pid, edgePort).runtime,
    edge_devproxy: () => edgeWorkerdCpu(edge.pid, edgePort).devProxy,
    edge_wrangler: () => groupCpuSeconds(edge.pid) - (groupCpuByName(edge.pid).workerd ?? 0),
    fleet: () => groupCpuSeconds(fleet.pid),
    // The numbers' peers in their processes (0 with --peer-processes 0: then they are in `bench`).
    peers: peersCpu,
    // The clock, the webhook receiver and the report (and the peers with --peer-processes 0).
    bench: selfCpuSeconds,
    machine: machineCpuSeconds,
  });
  // With the timeline, the same per 5 s window: whether a slow stretch is the machine out of cores (the edge's
  // single runtime thread then waits for one) or the edge waiting on something else.
  const windows =
    opts.timeline || opts["timeline-out"]
      ? cpuWindows(
          {
            seconds: () => performance.now() / 1000,
            machine: machineCpuSeconds,
            edge: () => edgeWorkerdCpu(edge.pid, edgePort).runtime,
            peers: peersCpu,
            fleet: () => groupCpuSeconds(fleet.pid),
            edgeWaiting: () => edgeRuntimeWaitSeconds(edge.pid, edgePort),
          },
          5_000,
        )
      : null;
  log(`injecting ${M} messages at ${RATE}/s (open loop)`);
  const start = performance.now();
  const startedAt = performance.timeOrigin + start;
  await openLoop(M, RATE, (i) => inject(i));
  const injectSeconds = (performance.now() - start) / 1000;
  log(`injected in ${f(injectSeconds)} s (${refused} refused by the peers); draining`);
  const expected = sentAt.size;
  const arrivedBodies = () => new Set(receiver.events("message.received").map((e) => e.payload?.body));
  // The arrivals' set once per check: built per message, the check was quadratic and held this process's
  // event loop (the webhook receiver's) for most of the drain.
  const allArrived = () => {
    const arrived = arrivedBodies();
    return [...sentAt.keys()].every((b) => arrived.has(b));
  };
  await waitFor(allArrived, DRAIN_MS, { intervalMs: 250, what: "every message delivered" }).catch(
    () => log("drain timed out: counting what arrived"),
  );

  const cpuUsed = cpu.stop();
  const cpuByWindow = windows?.stop() ?? [];
  if (edgeProfile) await writeEdgeProfile(log, await edgeProfile.stop(), "inbound", opts["edge-profile"]!);

  // ------------------------------------------------------------ figures
  const tally = receiver.tally(sentAt.keys(), (event) => event?.payload?.body);
  const latency = [...tally.first].map(([body, d]) => d.receivedAt - sentAt.get(body)!);
  const s = stats(latency);
  // When the edge published each event (its `created_at`) splits the path into before and after the event hub.
  const publishedAt = (d: { event: any }) => Date.parse(d.event.created_at);
  const toSocket = stats([...onSocketAt].map(([body, at]) => at - sentAt.get(body)!));
  const toPublish = stats([...tally.first].map(([body, d]) => publishedAt(d) - sentAt.get(body)!));
  const afterPublish = stats([...tally.first.values()].map((d) => d.receivedAt - publishedAt(d)));
  const lost = tally.lost.length;
  if (lost > 0) log(`never delivered: ${tally.lost.slice(0, 20).join(", ")}`);
  const duplicated = tally.duplicated.length;
  const retried = tally.retried;
  const invalid = tally.invalid;
  const delivered = tally.first.size;
  // Other processes' CPU skews the figures on a shared machine: said beside them.
  const outside = Math.max(0, cpuUsed.machine! - cpuUsed.edge_workerd! - cpuUsed.edge_devproxy! - cpuUsed.edge_wrangler! - cpuUsed.fleet! - cpuUsed.peers! - cpuUsed.bench!);
  const msPer = (seconds: number) => (delivered > 0 ? (1000 * seconds) / delivered : NaN);
  const report = {
    numbers: N,
    messages: expected,
    rate_per_s: RATE,
    peer_processes: PEER_PROCESSES,
    known_customers: opts["known-customers"]!,
    inject_seconds: Number(f(injectSeconds, 2)),
    latency_ms: { p50: s.p50, p99: s.p99, max: s.max, mean: Number(f(s.mean, 1)) },
    asked_to_on_socket_ms: { p50: toSocket.p50, p99: toSocket.p99 },
    to_publish_ms: { p50: toPublish.p50, p99: toPublish.p99 },
    publish_to_webhook_ms: { p50: afterPublish.p50, p99: afterPublish.p99 },
    lost,
    duplicated_events: duplicated,
    retried_deliveries_same_webhook_id: retried,
    bad_signatures: invalid,
    refused_by_peers: refused,
    edge_cpu_ms_per_received: Number(f(msPer(cpuUsed.edge_workerd!), 2)),
    fleet_cpu_ms_per_received: Number(f(msPer(cpuUsed.fleet!), 2)),
    cpu_seconds: { ...cpuUsed, outside: Number(f(outside, 2)) },
  };
  if (opts.json) process.stdout.write(JSON.stringify(report) + "\n");
  else {
    process.stdout.write(
      [
        `inbound -> webhook, ${N} numbers, ${expected} messages at ${RATE}/s (open loop, ${f(injectSeconds)} s) from ${CUSTOMERS} customers, ${opts["known-customers"] ? "each known (wrote once in the warm-up)" : "first contacts included"}:`,
        `  latency   p50 ${f(s.p50)} ms   p99 ${f(s.p99)} ms   max ${f(s.max)} ms   mean ${f(s.mean)} ms`,
        `    asked -> on the number's socket (the peer, ${PEER_PROCESSES > 0 ? `${PEER_PROCESSES} processes` : "in this process"}): p50 ${f(toSocket.p50)} ms, p99 ${f(toSocket.p99)} ms`,
        `    customer -> event published (peer, fleet, edge, D1): p50 ${f(toPublish.p50)} ms, p99 ${f(toPublish.p99)} ms`,
        `    published -> webhook received (hub, delivery): p50 ${f(afterPublish.p50)} ms, p99 ${f(afterPublish.p99)} ms`,
        `  edge CPU per received message: ${f(msPer(cpuUsed.edge_workerd!), 2)} ms (workerd runtime ${f(cpuUsed.edge_workerd!, 2)} s for ${delivered} delivered; + ${f(msPer(cpuUsed.edge_devproxy!), 2)} ms in wrangler's dev proxy, which Cloudflare does not run; wrangler ${f(cpuUsed.edge_wrangler!, 2)} s)   fleet ${f(msPer(cpuUsed.fleet!), 2)} ms per message`,
        `  CPU seconds: edge workerd ${f(cpuUsed.edge_workerd!, 2)}, dev proxy ${f(cpuUsed.edge_devproxy!, 2)}, wrangler ${f(cpuUsed.edge_wrangler!, 2)}, fleet ${f(cpuUsed.fleet!, 2)}, peers ${f(cpuUsed.peers!, 2)}${PEER_PROCESSES > 0 ? "" : " (in bench)"}, bench ${f(cpuUsed.bench!, 2)}`,
        `  CPU outside our processes (kernel, other jobs): ${f(outside, 2)} s`,
        `  lost ${lost}   duplicated events ${duplicated}   retried deliveries (same webhook-id) ${retried}   bad signatures ${invalid}`,
        `  target: 0 lost, p99 < 250 ms -> ${lost === 0 && s.p99 < 250 ? "met" : "NOT met"}; edge CPU <= ${EDGE_CPU_TARGET_MS} ms per received -> ${msPer(cpuUsed.edge_workerd!) <= EDGE_CPU_TARGET_MS ? "met" : "NOT met"}`,
        "",
      ].join("\n"),
    );
  }
  if (opts.timeline || opts["timeline-out"]) {
    const numberOf = (body: string) => (Number(body.replace("bench ", "")) % CUSTOMERS) % N;
    const rows = await deliveriesOf(stack.api, hook.id);
    const lines = timelines(tally.first, receiver.deliveries, sentAt, onSocketAt, numberOf, rows, waIdOf, fleetLogTimes(fleet.logPath));
    if (opts["timeline-out"]) writeTimeline(opts["timeline-out"], lines);
    const cores = (w: Record<string, number>, k: string) => f(w[k]! / w.seconds!, 2);
    const cpuLine = `    cores busy by 5 s window (machine/edge workerd/peers/fleet; + the edge's thread runnable, waiting for a core): ${cpuByWindow
      .map((w, i) => `${i * 5}s ${cores(w, "machine")}/${cores(w, "edge")}/${cores(w, "peers")}/${cores(w, "fleet")}+${cores(w, "edgeWaiting")}`)
      .join("  ")}`;
    (opts.json ? process.stderr : process.stdout).write([...timelineReport(lines, startedAt), cpuLine].join("\n") + "\n");
  }
  if (lost > 0 || duplicated > 0 || invalid > 0) process.exitCode = 1;
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  if (stack && (process.exitCode === 1 || opts["keep-logs"])) log(`logs kept in ${stack.logDir}`);
  await cleanup();
}

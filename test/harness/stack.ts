/**
 * A whole stack on loopback, as the end-to-end tests, the benchmarks and the
 * chaos suite run it: an edge (wrangler dev on its own state), the numbers'
 * WhatsApp peers behind the routing proxy, an admin client, and one project
 * (named after the stack) with its client. Fleets are started by the caller
 * (`stack.fleet()`); `stop()` stops everything the stack started.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AdminClient, type Instance, ProjectClient } from "./client.ts";
import { type Edge, startEdge } from "./edge.ts";
import { type Fleet, type FleetOptions, startFleet } from "./fleet.ts";
import { makeCreds, type NumberPeer, type PeerSet, type Peers, startPeers } from "./peers.ts";
import { makeLogDir } from "./processes.ts";
import { RoutingProxy } from "./routing-proxy.ts";
import { pool } from "./schedule.ts";
import { waitFor } from "./waits.ts";

export interface Stack<P extends PeerSet = Peers> {
  edge: Edge;
  peers: P;
  proxy: RoutingProxy;
  admin: AdminClient;
  api: ProjectClient;
  projectId: string;
  logDir: string;
  fleets: Fleet[];
  /** Starts a fleet process pointed at this edge and the proxy. */
  fleet(opts?: Partial<FleetOptions>): Fleet;
  /** Waits until `fleet` is registered with the edge's directory. */
  waitRegistered(fleet: Fleet, timeoutMs?: number): Promise<void>;
  /**
   * Creates `n` instances (`concurrency` at a time, one by default) and routes
   * the i-th to peer `firstPeer + i` (before any fleet can dial it).
   */
  createInstances(n: number, opts?: { prefix?: string; firstPeer?: number; concurrency?: number }): Promise<Instance[]>;
  /** Imports a registered session for `instance` made for `peer`'s number. */
  importFor(instance: Instance, peer: NumberPeer): Promise<void>;
  /**
   * Numbers on peers `firstPeer`...: creates `n` instances, imports their
   * sessions (`concurrency` at a time, all at once by default) and waits
   * until every one is connected (on `fleetId`, if named). Returns them as
   * connected.
   */
  connectNumbers(
    n: number,
    opts: { timeoutMs: number; fleetId?: string; prefix?: string; firstPeer?: number; concurrency?: number },
  ): Promise<Instance[]>;
  /**
   * Starts a fleet (with `fleet` options) and at once connects `n` numbers on
   * it, as `connectNumbers` (the edge waits while the fleet process starts).
   */
  fleetWithNumbers(
    n: number,
    opts: { timeoutMs: number; fleet?: Partial<FleetOptions> },
  ): Promise<{ fleet: Fleet; instances: Instance[] }>;
  /** Waits until every id is `connected` (from GET /instances), optionally on one fleet. */
  waitConnected(ids: string[], timeoutMs: number, fleetId?: string, intervalMs?: number): Promise<Instance[]>;
  /**
   * Starts the edge again on the same state and port (after `edge.kill()` or
   * `edge.stop()`): clients and fleets find it where it was.
   */
  restartEdge(): Promise<Edge>;
  /** Log file locations and tails, for failure messages. Calling it keeps the logs after stop(). */
  diagnostics(): string;
  /** Keep the log directory after stop() (set by diagnostics(), or POMBO_E2E_KEEP_LOGS=1). */
  keepLogs: boolean;
  stop(): Promise<void>;
}

/** The API key's request budget (wrangler.toml) would cap a benchmark flat out: they raise it to this, to measure the pipeline. */
export const BENCH_KEY_BUDGET = 100_000;

export interface StackOptions {
  /** Extra variables for the edge (e.g. webhook retry settings). */
  edgeVars?: Record<string, string>;
  /** Extra environment for every fleet this stack starts. */
  fleetEnv?: Record<string, string>;
  /** The edge's state directory, the caller's (kept on stop); by default one of the stack's own, removed on stop. */
  persistTo?: string;
  /** Requests per API key per window, in place of wrangler.toml's (benchmarks). */
  keyBudget?: number;
}

/**
 * `peers`: how many peers to start in this process, or a set started
 * elsewhere (`PeerProcesses`), which the stack now owns and closes.
 */
export async function startStack(name: string, peers: number, opts?: StackOptions): Promise<Stack<Peers>>;
export async function startStack<P extends PeerSet>(name: string, peers: P, opts?: StackOptions): Promise<Stack<P>>;
export async function startStack(name: string, peerSet: number | PeerSet, stackOpts: StackOptions = {}): Promise<Stack<PeerSet>> {
  const logDir = makeLogDir(name);
  const peers = typeof peerSet === "number" ? await startPeers(peerSet) : peerSet;
  const proxy = await new RoutingProxy().start();
  // The stack owns the edge's state (unless given one), so that a restarted edge finds it.
  const ownState = !stackOpts.persistTo;
  const persistTo = stackOpts.persistTo ?? mkdtempSync(path.join(tmpdir(), "pombo-edge-"));
  let edge: Edge;
  try {
    edge = await startEdge({ logDir, persistTo, vars: stackOpts.edgeVars, keyBudget: stackOpts.keyBudget });
  } catch (err) {
    await proxy.close();
    await peers.close();
    if (ownState) rmSync(persistTo, { recursive: true, force: true });
    throw err;
  }
  const admin = new AdminClient(edge.url, edge.adminToken);
  const project = await admin.createProject(name);
  const api = new ProjectClient(edge.url, project.api_key);
  const fleets: Fleet[] = [];

  const stack: Stack<PeerSet> = {
    edge,
    peers,
    proxy,
    admin,
    api,
    projectId: project.id,
    logDir,
    fleets,
    fleet(opts = {}) {
      // POMBO_WA_INIT_QUERIES stays at the fleet's default (true): crabline 0.1.27 answers Baileys' init queries, checked by hand.
      const f = startFleet({
        edgeUrl: stack.edge.url,
        fleetToken: stack.edge.fleetToken,
        waUrl: proxy.waUrl(peers.accessToken),
        logDir,
        ...opts,
        env: { ...stackOpts.fleetEnv, ...opts.env },
      });
      fleets.push(f);
      return f;
    },
    async waitRegistered(fleet, timeoutMs = 60_000) {
      await waitFor(async () => (await admin.fleets()).data.some((f) => f.fleet_id === fleet.fleetId), timeoutMs, {
        what: `${fleet.fleetId} registered with the directory`,
      });
    },
    async createInstances(n, { prefix = name, firstPeer = 0, concurrency = 1 } = {}) {
      const out: Instance[] = [];
      await pool(
        Array.from({ length: n }, (_, i) => firstPeer + i),
        concurrency,
        async (k, i) => {
          const peer = peers.peers[k];
          if (!peer) throw new Error(`no peer #${k}: the stack has ${peers.peers.length}`);
          const inst = await api.createInstance(`${prefix}-${k}`);
          proxy.route(inst.id, peer);
          out[i] = inst;
        },
      );
      return out;
    },
    async importFor(instance, peer) {
      await api.importSession(instance.id, makeCreds(peer.phone));
    },
    async connectNumbers(n, { timeoutMs, fleetId, prefix, firstPeer = 0, concurrency = n }) {
      const instances = await stack.createInstances(n, { prefix, firstPeer, concurrency });
      await pool(instances, concurrency, (inst, i) => stack.importFor(inst, peers.peers[firstPeer + i]!));
      return await stack.waitConnected(
        instances.map((i) => i.id),
        timeoutMs,
        fleetId,
      );
    },
    async fleetWithNumbers(n, { timeoutMs, fleet: fleetOpts }) {
      const fleet = stack.fleet(fleetOpts);
      const instances = await stack.connectNumbers(n, { timeoutMs, fleetId: fleet.fleetId });
      return { fleet, instances };
    },
    async waitConnected(ids, timeoutMs, fleetId, intervalMs = 250) {
      return await waitFor(
        async () => {
          const all = await api.listAllInstances();
          const got = ids.map((id) => all.find((i) => i.id === id));
          const ok = got.every((i) => i && i.state === "connected" && (!fleetId || i.fleet_id === fleetId));
          if (!ok) throw new Error(JSON.stringify(got.map((i) => i && { id: i.id, state: i.state, fleet: i.fleet_id })));
          return got as Instance[];
        },
        timeoutMs,
        { intervalMs, what: `${ids.length} instance(s) connected${fleetId ? ` on ${fleetId}` : ""}` },
      );
    },
    async restartEdge() {
      const old = stack.edge;
      await old.stop();
      stack.edge = await startEdge({ logDir, persistTo, port: old.port, vars: stackOpts.edgeVars, keyBudget: stackOpts.keyBudget });
      return stack.edge;
    },
    keepLogs: process.env.POMBO_E2E_KEEP_LOGS === "1",
    diagnostics() {
      stack.keepLogs = true;
      const parts = [`logs in ${logDir}`, `--- edge (${stack.edge.logPath}) ---`, stack.edge.tail(30)];
      for (const f of fleets) parts.push(`--- fleet ${f.fleetId} (${f.logPath}) ---`, f.tail(30));
      return parts.join("\n");
    },
    async stop() {
      await Promise.allSettled(fleets.map((f) => f.stop(5_000)));
      await stack.edge.stop();
      await proxy.close();
      await peers.close();
      if (ownState) rmSync(persistTo, { recursive: true, force: true });
      if (!stack.keepLogs) rmSync(logDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/**
 * One end-to-end stack per test file: an edge (wrangler dev, temp state),
 * n crabline peers, the routing proxy, an admin client and a project client.
 * Fleets are started by the tests themselves (`stack.fleet()`).
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { makeCreds, RoutingProxy, startPeers, type Peer, type Peers } from "./peers.ts";
import {
  AdminClient,
  importSessionOrFail,
  makeLogDir,
  ProjectClient,
  startEdge,
  startFleet,
  waitFor,
  type Edge,
  type Fleet,
  type FleetOptions,
  type Instance,
} from "./processes.ts";

export interface Stack {
  edge: Edge;
  peers: Peers;
  proxy: RoutingProxy;
  admin: AdminClient;
  api: ProjectClient;
  projectId: string;
  logDir: string;
  fleets: Fleet[];
  /** Starts a fleet process pointed at this edge and the proxy. */
  fleet(opts?: Partial<FleetOptions>): Fleet;
  /** Creates `n` instances and routes the i-th to peer `firstPeer + i` (before any fleet can dial it). */
  createInstances(n: number, opts?: { prefix?: string; firstPeer?: number }): Promise<Instance[]>;
  /** Imports a registered session for instance i made for peer i's number. */
  importFor(instance: Instance, peer: Peer): Promise<void>;
  /** Waits until every id is `connected` (from GET /instances), optionally on one fleet. */
  waitConnected(ids: string[], timeoutMs: number, fleetId?: string): Promise<Instance[]>;
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

/**
 * Env for fleets in tests. POMBO_WA_INIT_QUERIES is left at the fleet's
 * default (true): crabline 0.1.27 answers Baileys' init queries, checked by hand.
 */
export const FLEET_ENV: Record<string, string> = {};

export interface StackOptions {
  /** Extra `--var` values for the edge (e.g. webhook retry settings). */
  edgeVars?: Record<string, string>;
  /** Extra environment for every fleet this stack starts. */
  fleetEnv?: Record<string, string>;
}

export async function startStack(name: string, peerCount: number, stackOpts: StackOptions = {}): Promise<Stack> {
  const logDir = makeLogDir(name);
  const peers = await startPeers(peerCount);
  const proxy = await new RoutingProxy().start();
  // The stack owns the edge's state, so that a restarted edge finds it.
  const persistTo = mkdtempSync(path.join(tmpdir(), "pombo-edge-"));
  let edge: Edge;
  try {
    edge = await startEdge({ logDir, persistTo, vars: stackOpts.edgeVars });
  } catch (err) {
    await proxy.close();
    await peers.close();
    rmSync(persistTo, { recursive: true, force: true });
    throw err;
  }
  const admin = new AdminClient(edge.url, edge.adminToken);
  const project = await admin.createProject(`e2e-${name}`);
  const api = new ProjectClient(edge.url, project.api_key);
  const fleets: Fleet[] = [];

  const stack: Stack = {
    edge,
    peers,
    proxy,
    admin,
    api,
    projectId: project.id,
    logDir,
    fleets,
    fleet(opts = {}) {
      const f = startFleet({
        edgeUrl: stack.edge.url,
        fleetToken: stack.edge.fleetToken,
        waUrl: proxy.waUrl(peers.accessToken),
        logDir,
        ...opts,
        env: { ...FLEET_ENV, ...stackOpts.fleetEnv, ...opts.env },
      });
      fleets.push(f);
      return f;
    },
    async createInstances(n, { prefix = name, firstPeer = 0 } = {}) {
      const out: Instance[] = [];
      for (let i = 0; i < n; i++) {
        const peer = peers.peers[firstPeer + i];
        if (!peer) throw new Error(`no peer #${firstPeer + i}: the stack has ${peers.peers.length}`);
        const inst = await api.createInstance(`${prefix}-${firstPeer + i}`);
        proxy.route(inst.id, peer);
        out.push(inst);
      }
      return out;
    },
    async importFor(instance, peer) {
      await importSessionOrFail(api, instance.id, makeCreds(peer.phone));
    },
    async waitConnected(ids, timeoutMs, fleetId) {
      return await waitFor(
        async () => {
          const page = await api.listInstances("?limit=100");
          const got = ids.map((id) => page.data.find((i) => i.id === id));
          const ok = got.every((i) => i && i.state === "connected" && (!fleetId || i.fleet_id === fleetId));
          if (!ok) throw new Error(JSON.stringify(got.map((i) => i && { id: i.id, state: i.state, fleet: i.fleet_id })));
          return got as Instance[];
        },
        timeoutMs,
        { intervalMs: 250, what: `${ids.length} instance(s) connected${fleetId ? ` on ${fleetId}` : ""}` },
      );
    },
    async restartEdge() {
      const old = stack.edge;
      await old.stop();
      stack.edge = await startEdge({ logDir, persistTo, port: old.port, vars: stackOpts.edgeVars });
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
      rmSync(persistTo, { recursive: true, force: true });
      if (!stack.keepLogs) rmSync(logDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/**
 * One stack for a whole test file: started before its tests, stopped after,
 * and on a failed test the tails of the edge and fleet logs are printed.
 * Returns a getter, since the stack exists only once `beforeAll` ran.
 */
export function useStack(name: string, peerCount: number): () => Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack(name, peerCount);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail" && stack) console.error(stack.diagnostics());
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error("the stack is not started yet");
    return stack;
  };
}

/**
 * One chaos run's stack: the e2e stack (wrangler dev on its own state, the
 * crabline peers behind the routing proxy, a project), plus what every
 * scenario needs around it: one fleet data directory shared by all the run's
 * fleets (`POMBO_FLEET_DATA_DIR`: where a fleet keeps what must survive it),
 * the numbers connected from imported sessions, and a signed webhook
 * receiver subscribed to `message.received`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Instance } from "../harness/client.ts";
import type { Fleet } from "../harness/fleet.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";

export type Log = (line: string) => void;

export type ChaosStackOptions = {
  /** Names the log directory: `/tmp/pombo-chaos-<name>-*`. */
  name: string;
  numbers: number;
  log: Log;
  edgeVars?: Record<string, string>;
};

export class ChaosStack {
  readonly e2e: Stack;
  /** The fleets' data directory, shared by every fleet of the run (and kept across their restarts). */
  readonly dataDir: string;
  readonly receiver = new WebhookReceiver();
  readonly log: Log;
  instances: Instance[] = [];
  #fleets = 0;

  private constructor(e2e: Stack, dataDir: string, log: Log) {
    this.e2e = e2e;
    this.dataDir = dataDir;
    this.log = log;
  }

  static async start(opts: ChaosStackOptions): Promise<ChaosStack> {
    const dataDir = mkdtempSync(path.join(tmpdir(), "pombo-chaos-fleet-data-"));
    let e2e: Stack;
    try {
      e2e = await startStack(`chaos-${opts.name}`, opts.numbers, {
        edgeVars: opts.edgeVars,
        fleetEnv: { POMBO_FLEET_DATA_DIR: dataDir, POMBO_LOG_LEVEL: process.env.POMBO_LOG_LEVEL ?? "info" },
      });
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    opts.log(`stack up: edge ${e2e.edge.url}, ${opts.numbers} peers, logs in ${e2e.logDir}, fleet data in ${dataDir}`);
    return new ChaosStack(e2e, dataDir, opts.log);
  }

  get api() {
    return this.e2e.api;
  }

  get logDir(): string {
    return this.e2e.logDir;
  }

  /** A new fleet process on the shared data directory, named chaos-1, chaos-2, ... in start order. */
  fleet(): Fleet {
    const fleet = this.e2e.fleet({ fleetId: `chaos-${process.pid}-${++this.#fleets}` });
    this.log(`fleet ${fleet.fleetId} started (pid ${fleet.pid})`);
    return fleet;
  }

  /** Creates one instance per peer, imports its session and waits until all are connected (on `fleet`, if named). */
  async connectNumbers(fleet?: Fleet): Promise<Instance[]> {
    const n = this.e2e.peers.peers.length;
    this.instances = await this.e2e.connectNumbers(n, { timeoutMs: 60_000 + n * 5_000, fleetId: fleet?.fleetId, concurrency: 4 });
    this.log(`${n} numbers connected${fleet ? ` on ${fleet.fleetId}` : ""}`);
    return this.instances;
  }

  /** Waits until every number is connected, on whichever fleet; returns how long it took. */
  async waitAllConnected(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await this.e2e.waitConnected(
      this.instances.map((i) => i.id),
      timeoutMs,
    );
    return Date.now() - t0;
  }

  /** Which fleet runs each number now, by fleet id. */
  async holders(): Promise<Map<string, string | null>> {
    const all = await this.api.listAllInstances();
    return new Map(this.instances.map((inst) => [inst.id, all.find((i) => i.id === inst.id)?.fleet_id ?? null]));
  }

  /** Brings the receiver up and subscribes it to `message.received`. */
  async subscribe(): Promise<void> {
    await this.receiver.subscribe(this.api, ["message.received"]);
  }

  /** Most simultaneous WhatsApp sockets any one number had (above 1: two fleets ran it at once). */
  maxSocketsPerNumber(): number {
    return Math.max(0, ...this.instances.map((i) => this.e2e.proxy.maxConcurrent(i.id)));
  }

  /**
   * How long after `t` the numbers whose WhatsApp socket dropped after `t`
   * had one open again (ms, the slowest of them); null if one has not yet.
   */
  socketsBackAfter(t: number): number | null {
    let slowest = 0;
    for (const inst of this.instances) {
      const events = this.e2e.proxy.events.filter((e) => e.instanceId === inst.id && e.at >= t);
      const drop = events.find((e) => e.kind === "close");
      if (!drop) continue;
      const back = events.find((e) => e.kind === "open" && e.at >= drop.at);
      if (!back) return null;
      slowest = Math.max(slowest, back.at - t);
    }
    return slowest;
  }

  /** WhatsApp connections each number has opened so far (a difference of two counts: reconnects). */
  connectionCounts(): number[] {
    return this.instances.map((i) => this.e2e.proxy.connectionsTotal(i.id));
  }

  /** Stops everything; the logs are kept when `keepLogs` (their directory is printed by the caller). */
  async stop(keepLogs: boolean): Promise<void> {
    this.e2e.keepLogs = keepLogs;
    await Promise.allSettled([this.e2e.stop(), this.receiver.close()]);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

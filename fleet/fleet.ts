/**
 * One fleet process: the instances it runs and its link to the directory.
 *
 * Each running instance is a pair: an InstanceLink (the lease and the RPC to
 * its Durable Object) and a ConnectionManager (its Baileys socket). The
 * fleet only wires them together and follows the directory; it never picks
 * instances by itself.
 *
 * Received messages of every instance go through one spool on disk and one
 * drainer per process (inbound-spool.ts, inbound-drainer.ts), which outlive
 * the instances: a number that stops running here (revoked, lease moved,
 * drain) leaves its messages there, and they still reach the edge.
 */
import type WebSocket from "ws";
import type { Logger } from "pino";
import { SessionCipher } from "./cipher.ts";
import { type FleetConfig, waUrlFor } from "./config.ts";
import { ConnectionManager } from "./connection.ts";
import { settleWithin } from "./deadlines.ts";
import { DirectoryClient } from "./directory-client.ts";
import { edgeCourier } from "./inbound-courier.ts";
import { InboundDrainer } from "./inbound-drainer.ts";
import type { MediaHosts } from "./inbound-media.ts";
import { inboundPreparer } from "./inbound-prepare.ts";
import { InboundSpool } from "./inbound-spool.ts";
import { InstanceLink } from "./instance-link.ts";
import { FleetMetrics } from "./metrics.ts";
import { type FetchMedia, edgeMediaFetcher } from "./outbound-media.ts";
import type { MakeSocket } from "./wa-socket.ts";
import { WaVersionSource } from "./wa-version.ts";

export type FleetOptions = {
  config: FleetConfig;
  logger: Logger;
  /** Injection points for tests. */
  openSocket?: (url: string, token: string) => WebSocket;
  makeSocket?: MakeSocket;
  versions?: WaVersionSource;
};

type Running = { link: InstanceLink; manager: ConnectionManager };

/** Per instance: time for queued session writes to reach the edge before we let go. */
const STOP_FLUSH_TIMEOUT_MS = 3_000;
/** On drain, how long the spool gets to empty; what is left waits on disk for the next process. */
const SPOOL_DRAIN_MS = 2_000;
const MB = 1024 * 1024;

export class Fleet {
  /** What this process counts and holds, for `/metrics` (main.ts serves it when asked). */
  readonly metrics: FleetMetrics;
  #opts: FleetOptions;
  #logger: Logger;
  #cipher: SessionCipher;
  #versions: WaVersionSource;
  #fetchMedia: FetchMedia;
  /** Where received files and profile pictures come from. A test server (waUrl) serves them from wherever it runs; WhatsApp's come from its own hosts. */
  get #mediaHosts(): MediaHosts {
    const { config } = this.#opts;
    return { anyHost: Boolean(config.waUrl), allowPrivate: config.allowPrivateNetworks };
  }
  #instances = new Map<string, Running>();
  #directory: DirectoryClient;
  #spool: InboundSpool;
  #drainer: InboundDrainer;
  #draining = false;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#cipher = new SessionCipher(opts.config.sessionKey);
    this.#versions = opts.versions ?? new WaVersionSource(opts.config.waVersion, opts.logger);
    const { config } = opts;
    this.#fetchMedia = edgeMediaFetcher({ edgeUrl: config.edgeUrl, token: config.fleetToken });
    this.#spool = InboundSpool.open({
      dir: config.dataDir,
      logger: opts.logger,
      maxRows: config.spoolMaxRows,
      minFreeBytes: config.spoolMinFreeMb * MB,
    });
    const courier = edgeCourier({
      linkFor: (id) => {
        const link = this.#instances.get(id)?.link;
        return link?.granted ? link : null;
      },
      edgeUrl: config.edgeUrl,
      token: config.fleetToken,
    });
    this.#drainer = new InboundDrainer({
      spool: this.#spool,
      courier,
      logger: opts.logger,
      prepare: inboundPreparer({
        cipher: this.#cipher,
        courier,
        logger: opts.logger,
        mediaHosts: this.#mediaHosts,
        reupload: (id) => this.#instances.get(id)?.manager.mediaReupload(),
      }),
    });
    this.#directory = new DirectoryClient({
      edgeUrl: config.edgeUrl,
      token: config.fleetToken,
      hello: { fleet_id: config.fleetId, host: config.host, pid: config.pid, capacity: config.capacity },
      logger: opts.logger,
      onAssign: (ids, complete) => {
        if (complete) void this.revoke(this.instanceIds.filter((id) => !ids.includes(id)));
        this.assign(ids);
      },
      onRevoke: (ids) => void this.revoke(ids),
      openSocket: opts.openSocket,
    });
    this.metrics = new FleetMetrics({
      openSockets: () => [...this.#instances.values()].filter((r) => r.manager.status.state === "connected").length,
      numbers: () => this.#instances.size,
      spoolRows: () => (this.#spool.closed ? 0 : this.#spool.size),
      linked: () => this.#directory.connected,
    });
  }

  start(): void {
    this.#logger.info({ host: this.#opts.config.host, capacity: this.#opts.config.capacity, spool: this.#spool.path }, "fleet starting");
    this.#drainer.start();
    this.#directory.start();
  }

  get instanceIds(): string[] {
    return [...this.#instances.keys()];
  }

  /** Runs the given instances; ids already running are left alone. */
  assign(ids: string[]): void {
    if (this.#draining) return;
    const { capacity } = this.#opts.config;
    for (const id of ids) {
      if (this.#instances.has(id)) continue;
      if (capacity > 0 && this.#instances.size >= capacity) {
        // The directory knows our capacity from hello; running more is its call, but worth a line.
        this.#logger.warn({ instance_id: id, capacity }, "assigned beyond capacity");
      }
      this.#run(id);
    }
  }

  /** Stops the given instances (no logout) and lets go of their leases. */
  async revoke(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.#stop(id, "revoked")));
  }

  /**
   * Graceful shutdown: every socket ends (no logout), every lease is
   * released, the spool gets a moment to empty, then the directory link
   * closes. Received messages still in the spool stay on disk.
   */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#logger.info({ instances: this.#instances.size }, "draining");
    const [, left] = await Promise.all([
      Promise.all(this.instanceIds.map((id) => this.#stop(id, "drain"))),
      this.#drainer.idle(SPOOL_DRAIN_MS),
    ]);
    this.#drainer.stop();
    this.#spool.close();
    if (left > 0) this.#logger.warn({ rows: left, spool: this.#spool.path }, "received messages left in the spool for the next start");
    await this.#directory.close();
    this.#logger.info("drained");
  }

  #run(id: string): void {
    const { config } = this.#opts;
    const logger = this.#logger.child({ instance_id: id });
    let manager: ConnectionManager | null = null;
    const link = new InstanceLink({
      edgeUrl: config.edgeUrl,
      token: config.fleetToken,
      fleetId: config.fleetId,
      instanceId: id,
      logger,
      openSocket: this.#opts.openSocket,
      onGranted: (grant) => {
        manager?.leaseGranted(grant);
        // Received messages waiting for a retry go now, on the fresh link.
        this.#drainer.wake();
      },
      onLost: () => manager?.leaseLost(),
      onEnded: (why) => {
        logger.info({ why }, "instance ended by the edge");
        void manager?.stop();
        this.#instances.delete(id);
      },
    });
    manager = new ConnectionManager({
      instanceId: id,
      link,
      cipher: this.#cipher,
      versions: this.#versions,
      logger,
      waUrl: waUrlFor(config, id),
      fireInitQueries: config.waInitQueries,
      silenceMs: config.waSilenceMs,
      qrLimit: config.qrLimit,
      allowPrivateNetworks: config.allowPrivateNetworks,
      makeSocket: this.#opts.makeSocket,
      fetchMedia: this.#fetchMedia,
      mediaHosts: this.#mediaHosts,
      spool: this.#spool,
      reconnects: this.metrics,
    });
    link.serve(this.metrics.countingSends(manager.methods));
    this.#instances.set(id, { link, manager });
    logger.info("instance assigned");
    link.start();
  }

  async #stop(id: string, why: string): Promise<void> {
    const running = this.#instances.get(id);
    if (!running) return;
    this.#instances.delete(id);
    const logger = this.#logger.child({ instance_id: id });
    // Socket first, release after: the lease must outlive our WhatsApp socket.
    const stopped = await settleWithin(running.manager.stop(), STOP_FLUSH_TIMEOUT_MS);
    if (!stopped) logger.warn("session writes still pending at release");
    await running.link.close({ release: true });
    logger.info({ why }, "instance released");
  }
}

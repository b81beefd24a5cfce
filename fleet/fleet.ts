/**
 * One fleet process: the instances it runs and its link to the directory.
 *
 * Each running instance is a pair: an InstanceLink (the lease and the RPC to
 * its Durable Object) and a ConnectionManager (its Baileys socket). The
 * fleet only wires them together and follows the directory; it never picks
 * instances by itself.
 */
import type WebSocket from "ws";
import type { Logger } from "pino";
import { SessionCipher } from "./cipher.ts";
import { type FleetConfig, waUrlFor } from "./config.ts";
import { ConnectionManager, type MakeSocket } from "./connection.ts";
import { DirectoryClient } from "./directory-client.ts";
import { InstanceLink } from "./instance-link.ts";
import { type FetchMedia, edgeMediaFetcher } from "./outbound.ts";
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

export class Fleet {
  #opts: FleetOptions;
  #logger: Logger;
  #cipher: SessionCipher;
  #versions: WaVersionSource;
  #fetchMedia: FetchMedia;
  #instances = new Map<string, Running>();
  #directory: DirectoryClient;
  #draining = false;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#cipher = new SessionCipher(opts.config.sessionKey);
    this.#versions = opts.versions ?? new WaVersionSource(opts.config.waVersion, opts.logger);
    const { config } = opts;
    this.#fetchMedia = edgeMediaFetcher({ edgeUrl: config.edgeUrl, token: config.fleetToken });
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
  }

  start(): void {
    this.#logger.info({ host: this.#opts.config.host, capacity: this.#opts.config.capacity }, "fleet starting");
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

  /** Graceful shutdown: every socket ends (no logout), every lease is released, then the directory link closes. */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#logger.info({ instances: this.#instances.size }, "draining");
    await Promise.all(this.instanceIds.map((id) => this.#stop(id, "drain")));
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
      onGranted: (grant) => manager?.leaseGranted(grant),
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
      allowPrivateNetworks: config.allowPrivateNetworks,
      makeSocket: this.#opts.makeSocket,
      fetchMedia: this.#fetchMedia,
    });
    link.serve(manager.methods);
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

/** True if the promise settled within `ms`; never rejects. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

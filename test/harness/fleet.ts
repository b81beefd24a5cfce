/** A fleet process (`fleet/main.ts`) pointed at an edge and at WhatsApp peers, with its output in a log file. */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { killGroup, logTail, ROOT, spawnLogged } from "./processes.ts";

export interface FleetOptions {
  edgeUrl: string;
  fleetToken: string;
  waUrl: string;
  sessionKey?: string;
  fleetId?: string;
  logDir: string;
  logLevel?: string;
  /** POMBO_FLEET_DATA_DIR (the inbound spool): by default one under `logDir`, shared by the fleets of a test. */
  dataDir?: string;
  /** Extra environment (e.g. POMBO_WA_INIT_QUERIES). */
  env?: Record<string, string>;
  /** Extra node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  /** Another install of the fleet: node runs `args` (e.g. the image's CMD) in `cwd`; default: this repo's fleet/main.ts. */
  app?: { cwd: string; args: string[] };
}

export interface Fleet {
  pid: number;
  fleetId: string;
  logPath: string;
  exited: Promise<number | null>;
  /** True while the process runs. */
  alive(): boolean;
  tail(lines?: number): string;
  /** SIGTERM (graceful drain) and wait for exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, no drain. */
  kill(): Promise<number | null>;
}

let fleetSeq = 0;

export function startFleet(opts: FleetOptions): Fleet {
  const fleetId = opts.fleetId ?? `e2e-fleet-${process.pid}-${++fleetSeq}`;
  mkdirSync(opts.logDir, { recursive: true });
  const logPath = path.join(opts.logDir, `${fleetId}.log`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POMBO_EDGE_URL: opts.edgeUrl,
    POMBO_FLEET_TOKEN: opts.fleetToken,
    POMBO_SESSION_KEY: opts.sessionKey ?? "e2e-session-key-0123456789abcdef",
    POMBO_WA_URL: opts.waUrl,
    POMBO_FLEET_ID: fleetId,
    POMBO_FLEET_DATA_DIR: opts.dataDir ?? path.join(opts.logDir, "fleet-data"),
    // The peers serve received media on loopback.
    POMBO_ALLOW_PRIVATE_NETWORKS: "true",
    POMBO_LOG_LEVEL: opts.logLevel ?? process.env.POMBO_E2E_FLEET_LOG_LEVEL ?? "debug",
    ...opts.env,
  };
  const { child, exited } = spawnLogged(
    process.execPath,
    [...(opts.nodeArgs ?? []), ...(opts.app?.args ?? [path.join(ROOT, "fleet/main.ts")])],
    { env, logPath, cwd: opts.app?.cwd },
  );
  let running = true;
  void exited.then(() => (running = false));
  const tail = (lines = 40) => logTail(logPath, lines);
  return {
    pid: child.pid!,
    fleetId,
    logPath,
    exited,
    alive: () => running,
    tail,
    async stop(timeoutMs = 15_000) {
      if (!running) return await exited;
      killGroup(child.pid!, "SIGTERM");
      const t = setTimeout(() => killGroup(child.pid!, "SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async kill() {
      if (!running) return await exited;
      killGroup(child.pid!, "SIGKILL");
      return await exited;
    },
  };
}


/**
 * The edge as the harness runs it: `wrangler dev` on a temporary D1/Durable
 * Object state (migrated first), with its variables in a 0600 file rather
 * than on a command line, a local DNS over HTTPS resolver, and a health wait.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startLocalDoh } from "../../scripts/local-doh.ts";
import { edgeVarsFileArgs, localEdgeVars, WRANGLER_ENV_FILE_ENV } from "../../scripts/local-edge-vars.ts";
import { freePort, killGroup, logTail, ROOT, runCommand, spawnLogged } from "./processes.ts";
import { waitFor } from "./waits.ts";

const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/** Environment for wrangler: offline, quiet, and blind to a developer's `.env`. */
export function wranglerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.join(ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
    CI: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    ...extra,
  };
}

export interface EdgeOptions {
  adminToken?: string;
  fleetToken?: string;
  /** Extra variables for the edge (they reach wrangler in a 0600 env file, not on its command line). */
  vars?: Record<string, string>;
  /** State directory; a fresh temporary one by default (removed on stop). */
  persistTo?: string;
  /** Where logs go; a fresh temporary directory by default (kept, printed on failure). */
  logDir?: string;
  port?: number;
  /** Wrangler config; the repo's wrangler.toml by default. */
  config?: string;
  /**
   * Requests per API key per window (`KEY_RATE_LIMIT`), in place of the
   * config's: benchmarks raise it, to measure the pipeline, not the budget.
   */
  keyBudget?: number;
  startTimeoutMs?: number;
}

export interface Edge {
  url: string;
  port: number;
  adminToken: string;
  fleetToken: string;
  persistTo: string;
  logDir: string;
  logPath: string;
  pid: number;
  exited: Promise<number | null>;
  /** Last lines of the edge log, for failure messages. */
  tail(lines?: number): string;
  /** Freezes every process of the edge (SIGSTOP): sockets stay open, nothing answers. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  stop(): Promise<void>;
  /** SIGKILL of the whole tree (wrangler's node and its workerd), no shutdown; the state stays. */
  kill(): Promise<void>;
}

/**
 * The config with KEY_RATE_LIMIT's limit replaced, written next to it (its
 * paths are relative to where it lies; .gitignore has these); removed on stop.
 */
function withKeyBudget(config: string, budget: number | undefined): string {
  if (budget === undefined) return config;
  const text = readFileSync(config, "utf8");
  const changed = text.replace(/(name = "KEY_RATE_LIMIT"[^[]*?limit = )\d+/, `$1${budget}`);
  if (changed === text) throw new Error(`${config}: no KEY_RATE_LIMIT limit to raise`);
  const copy = path.join(path.dirname(config), `.wrangler-harness-${process.pid}-${Date.now()}.toml`);
  writeFileSync(copy, changed);
  return copy;
}

/**
 * Starts the edge; once more when wrangler dev lost a port race. The ports
 * are picked free just before wrangler binds them, and wrangler picks some of
 * its own sockets the same way, so with e2e files starting edges side by side
 * another process can take one in between ("Address already in use").
 */
export async function startEdge(opts: EdgeOptions = {}): Promise<Edge> {
  for (let tries = 1; ; tries++) {
    try {
      return await startEdgeOnce(opts);
    } catch (err) {
      if (tries >= 3 || !String((err as Error).message).includes("Address already in use")) throw err;
    }
  }
}

async function startEdgeOnce(opts: EdgeOptions): Promise<Edge> {
  const adminToken = opts.adminToken ?? "e2e-admin-token";
  const fleetToken = opts.fleetToken ?? "e2e-fleet-token";
  const ownState = !opts.persistTo;
  const persistTo = opts.persistTo ?? mkdtempSync(path.join(tmpdir(), "pombo-edge-"));
  const logDir = opts.logDir ?? mkdtempSync(path.join(tmpdir(), "pombo-logs-"));
  mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, "edge.log");
  const config = withKeyBudget(opts.config ?? path.join(ROOT, "wrangler.toml"), opts.keyBudget);
  const env = wranglerEnv();

  await runCommand(
    process.execPath,
    [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config],
    env,
    60_000,
  );

  const port = opts.port ?? (await freePort());
  const inspectorPort = await freePort();
  const doh = await startLocalDoh();
  const vars = {
    POMBO_ADMIN_TOKEN: adminToken,
    POMBO_FLEET_TOKEN: fleetToken,
    POMBO_DATA_KEY: "e2e-data-key-0123456789abcdef",
    // The tests' media and webhook servers live on loopback.
    POMBO_ALLOW_PRIVATE_NETWORKS: "true",
    ...localEdgeVars(`http://127.0.0.1:${port}`, doh.url),
    // Webhook retries in seconds, not minutes, so "receiver down, then up" fits in a test.
    POMBO_WEBHOOK_RETRY_BASE_S: "1",
    ...opts.vars,
  };
  const args = [
    WRANGLER,
    "dev",
    "--config",
    config,
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    "--log-level",
    process.env.POMBO_E2E_EDGE_LOG_LEVEL ?? "info",
  ];
  const varsDir = mkdtempSync(path.join(tmpdir(), "pombo-edge-vars-"));
  args.push(...edgeVarsFileArgs(path.join(varsDir, "edge.env"), vars));
  const { child, exited } = spawnLogged(process.execPath, args, { env: { ...env, ...WRANGLER_ENV_FILE_ENV }, logPath });
  const url = `http://127.0.0.1:${port}`;
  const tail = (lines = 40) => logTail(logPath, lines);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // A frozen edge cannot act on SIGTERM: wake it first, and again after (a paused edge takes it only once it runs).
    killGroup(child.pid!, "SIGCONT");
    killGroup(child.pid!, "SIGTERM");
    killGroup(child.pid!, "SIGCONT");
    const t = setTimeout(() => killGroup(child.pid!, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
    // workerd children may outlive wrangler for a moment; make sure the group is gone.
    killGroup(child.pid!, "SIGKILL");
    rmSync(varsDir, { recursive: true, force: true });
    if (opts.keyBudget !== undefined) rmSync(config, { force: true });
    await doh.close();
    if (ownState) rmSync(persistTo, { recursive: true, force: true });
  };
  try {
    let dead = false;
    void exited.then(() => (dead = true));
    await waitFor(
      async () => {
        if (dead) throw new Error(`wrangler dev exited:\n${tail()}`);
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200;
      },
      opts.startTimeoutMs ?? 60_000,
      { intervalMs: 250, what: `edge /health on ${url}` },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- edge log (${logPath}) ---\n${tail()}`);
  }
  const kill = async () => {
    stopped = true;
    killGroup(child.pid!, "SIGKILL");
    await exited;
  };
  return {
    url,
    port,
    adminToken,
    fleetToken,
    persistTo,
    logDir,
    logPath,
    pid: child.pid!,
    exited,
    tail,
    stop,
    kill,
    pause: () => killGroup(child.pid!, "SIGSTOP"),
    resume: () => killGroup(child.pid!, "SIGCONT"),
  };
}

/**
 * Runs SQL on the edge's local D1 while it serves (wrangler opens the same
 * SQLite state), and gives wrangler's output (`json`: the results as JSON).
 * For setting up what only time would produce, like a number that connected
 * a week ago, or seeding and reading a benchmark's data.
 */
export async function d1Execute(edge: Edge, sql: string, opts: { json?: boolean; timeoutMs?: number } = {}): Promise<string> {
  return await runCommand(
    process.execPath,
    [WRANGLER, "d1", "execute", "DB", "--local", "--persist-to", edge.persistTo, "--config", path.join(ROOT, "wrangler.toml"), ...(opts.json ? ["--json"] : []), "--command", sql],
    wranglerEnv(),
    opts.timeoutMs ?? 60_000,
  );
}

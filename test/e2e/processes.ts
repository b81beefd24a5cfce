/**
 * Processes for end-to-end tests and the benchmark: the edge (`wrangler dev`
 * with a temporary D1/Durable Object state), fleet processes, a small typed
 * API client and a polling helper. Everything listens on 127.0.0.1 and every
 * wait is bounded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, type WriteStream } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalDoh } from "../../scripts/local-doh.ts";
import { edgeVarsFileArgs, localEdgeVars, WRANGLER_ENV_FILE_ENV } from "../../scripts/local-edge-vars.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
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

// ---------------------------------------------------------------- utilities

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or
 * `timeoutMs` passes (then throws, with the last value/error in the message).
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  opts: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? "condition"} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/** Every process group started here, killed on exit if a test forgot to. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

function exitPromise(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Spawns a detached child (its own process group) with output appended to `logPath`. */
function spawnLogged(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; logPath: string; cwd?: string }) {
  const log: WriteStream = createWriteStream(opts.logPath, { flags: "a" });
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  if (child.pid) liveGroups.add(child.pid);
  const exited = exitPromise(child).then((code) => {
    if (child.pid) liveGroups.delete(child.pid);
    // Let the pipes flush before closing the log.
    setTimeout(() => log.end(), 50);
    return code;
  });
  return { child, exited };
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      killGroup(child.pid!, "SIGKILL");
      reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1).join(" ")} timed out after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.slice(0, 4).join(" ")} exited ${code}:\n${out}`));
    });
  });
}

// ---------------------------------------------------------------- edge

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

export async function startEdge(opts: EdgeOptions = {}): Promise<Edge> {
  const adminToken = opts.adminToken ?? "e2e-admin-token";
  const fleetToken = opts.fleetToken ?? "e2e-fleet-token";
  const ownState = !opts.persistTo;
  const persistTo = opts.persistTo ?? mkdtempSync(path.join(tmpdir(), "pombo-edge-"));
  const logDir = opts.logDir ?? mkdtempSync(path.join(tmpdir(), "pombo-logs-"));
  mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, "edge.log");
  const config = opts.config ?? path.join(ROOT, "wrangler.toml");
  const env = wranglerEnv();

  await run(
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
  const tail = (lines = 40) => {
    try {
      return readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
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

// ---------------------------------------------------------------- fleet

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
    [...(opts.nodeArgs ?? []), path.join(ROOT, "fleet/main.ts")],
    { env, logPath },
  );
  let running = true;
  void exited.then(() => (running = false));
  const tail = (lines = 40) => {
    try {
      return readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
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

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

// ---------------------------------------------------------------- API client

// The API shows the protocol's own values: one source.
import type { DisconnectReason, InstanceState } from "../../shared/protocol.ts";
export type { DisconnectReason, InstanceState };

export interface Instance {
  id: string;
  name: string;
  state: InstanceState;
  reason: DisconnectReason | null;
  proxy_url: string | null;
  jid: string | null;
  phone: string | null;
  last_close_code: number | null;
  last_close_at: string | null;
  fleet_id: string | null;
  health: number;
  dead_socket_reconnects: number;
  sent_today: number;
  warming: { day: number; daily_limit: number; sent_today: number; ends_at: string } | null;
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Project {
  id: string;
  name: string;
  api_key?: string;
}

export interface FleetInfo {
  fleet_id: string;
  instances: number | string[];
  connected_at: string;
}

export class ApiError extends Error {
  status: number;
  body: unknown;
  constructor(method: string, p: string, status: number, body: unknown) {
    super(`${method} ${p} -> ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export interface RawResponse<T = unknown> {
  status: number;
  body: T;
  ms: number;
}

export class Client {
  readonly baseUrl: string;
  readonly token: string;
  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.token = token;
  }

  /** Any request; never throws on HTTP status. */
  async raw<T = unknown>(method: string, p: string, body?: unknown, timeoutMs = 30_000): Promise<RawResponse<T>> {
    const t0 = performance.now();
    const res = await fetch(this.baseUrl + p, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let parsed: unknown = text;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
    } else parsed = null;
    return { status: res.status, body: parsed as T, ms };
  }

  /** A request that must answer `expect` (or any 2xx); returns the body. */
  async call<T>(method: string, p: string, body?: unknown, expect?: number): Promise<T> {
    const r = await this.raw<T>(method, p, body);
    if (expect !== undefined ? r.status !== expect : r.status < 200 || r.status > 299) {
      throw new ApiError(method, p, r.status, r.body);
    }
    return r.body;
  }
}

export class AdminClient extends Client {
  createProject(name: string) {
    return this.call<Project & { api_key: string }>("POST", "/admin/projects", { name }, 201);
  }
  listProjects() {
    return this.call<Page<Project>>("GET", "/admin/projects");
  }
  createKey(projectId: string) {
    return this.call<{ id: string; api_key: string }>("POST", `/admin/projects/${projectId}/keys`, undefined, 201);
  }
  deleteKey(projectId: string, keyId: string) {
    return this.call<null>("DELETE", `/admin/projects/${projectId}/keys/${keyId}`, undefined, 204);
  }
  ping(instanceId: string) {
    return this.raw<{ rtt_ms: number }>("POST", `/admin/instances/${instanceId}/ping`);
  }
  fleets() {
    return this.call<{ data: FleetInfo[] }>("GET", "/admin/fleets");
  }
}

export class ProjectClient extends Client {
  createInstance(name: string, proxyUrl?: string) {
    return this.call<Instance>("POST", "/instances", proxyUrl ? { name, proxy_url: proxyUrl } : { name }, 201);
  }
  listInstances(query = "") {
    return this.call<Page<Instance>>("GET", `/instances${query}`);
  }
  getInstance(id: string) {
    return this.call<Instance>("GET", `/instances/${id}`);
  }
  deleteInstance(id: string) {
    return this.call<null>("DELETE", `/instances/${id}`, undefined, 204);
  }
  restart(id: string) {
    return this.call<unknown>("POST", `/instances/${id}/restart`);
  }
  logout(id: string) {
    return this.call<unknown>("POST", `/instances/${id}/logout`);
  }
  qr(id: string) {
    return this.raw<unknown>("GET", `/instances/${id}/qr`);
  }
  /** `creds` is a creds.json string (BufferJSON) or the parsed object. */
  importSession(id: string, creds: string | Record<string, unknown>) {
    return this.raw<unknown>("POST", `/instances/${id}/session`, creds);
  }
}

/**
 * Imports a session, once. Right after the instance was created no fleet may
 * hold it yet: the edge waits for one (bounded) before it answers, so
 * anything but 202 is a failure.
 */
export async function importSessionOrFail(
  api: ProjectClient,
  id: string,
  creds: string | Record<string, unknown>,
): Promise<RawResponse> {
  const r = await api.importSession(id, creds);
  if (r.status !== 202) throw new ApiError("POST", `/instances/${id}/session`, r.status, r.body);
  return r;
}

/** A temp directory for one test file's logs (kept so failures can be read). */
export function makeLogDir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `pombo-${name}-`));
}

/**
 * Runs SQL on the edge's local D1 while it serves (wrangler opens the same
 * SQLite state). For setting up what only time would produce, like a number
 * that connected a week ago.
 */
export async function d1Execute(edge: Edge, sql: string): Promise<void> {
  await run(
    process.execPath,
    [WRANGLER, "d1", "execute", "DB", "--local", "--persist-to", edge.persistTo, "--command", sql, "--config", path.join(ROOT, "wrangler.toml")],
    wranglerEnv(),
    60_000,
  );
}

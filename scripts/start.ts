/**
 * `npm start`: the whole of Pombo on one machine.
 *
 *  1. Loads `.env` (or `.env.example` when there is no `.env`); variables
 *     already in the environment win.
 *  2. Applies the D1 migrations to the local state in `.pombo/state`
 *     (`npm start -- --fresh` wipes that state first).
 *  3. Runs the edge (`wrangler dev`) on PORT and waits for /health.
 *  4. On a fresh state creates a project named "default" and prints its API
 *     key once.
 *  5. Starts one fleet process pointed at the edge.
 *
 * Output lines are prefixed with [edge] / [fleet]. Ctrl-C (SIGINT), SIGTERM or
 * SIGHUP drains the fleet, then stops the edge. If either child dies, the other
 * is stopped and this exits non-zero.
 *
 * A hard kill of this process (SIGKILL, the OOM killer) runs none of that:
 * each child runs under scripts/supervise.ts, which stops it when our end of
 * its stdin pipe closes. And `.pombo/run.json` names this run's processes, so
 * the next start clears any that survived anyway (scripts/local-run.ts).
 * The edge's secrets reach wrangler in a 0600 env file, never on its command
 * line, where `ps` shows them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import { constants } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { localEdgeUrl, portOf } from "../fleet/edge-url.ts";
import { loadedEnvFile } from "./load-env.ts";
import { startLocalDoh } from "./local-doh.ts";
import { edgeVarsFileArgs, localEdgeVars, WRANGLER_ENV_FILE_ENV } from "./local-edge-vars.ts";
import { clearStaleRun, procStat, RUN_ID_VAR, writeRunRecord, type RunRecord } from "./local-run.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const SUPERVISE = path.join(ROOT, "scripts", "supervise.ts");
const HEALTH_TIMEOUT_MS = 90_000;
const FLEET_STOP_MS = 10_000;
const EDGE_STOP_MS = 5_000;

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write("usage: npm start [-- --fresh]\n  --fresh  wipe the local state (.pombo/state) first\n");
  process.exit(0);
}
const unknown = args.filter((a) => a !== "--fresh");
if (unknown.length) {
  process.stderr.write(`pombo: unknown argument(s): ${unknown.join(" ")} (usage: npm start [-- --fresh])\n`);
  process.exit(2);
}
const fresh = args.includes("--fresh");

// .env is loaded (by the import above) before POMBO_LOCAL_DIR is read.
const LOCAL_DIR = path.resolve(ROOT, process.env.POMBO_LOCAL_DIR?.trim() || ".pombo");
const STATE_DIR = path.join(LOCAL_DIR, "state");
const RUN_FILE = path.join(LOCAL_DIR, "run.json");
const EDGE_VARS_FILE = path.join(LOCAL_DIR, "edge.env");

const say = (line: string) => process.stdout.write(`[pombo] ${line}\n`);

// ---------------------------------------------------------------- config

const envFile = loadedEnvFile;
const env = process.env;
let port: number;
try {
  port = portOf(env);
} catch (err) {
  process.stderr.write(`pombo: ${(err as Error).message}\n`);
  process.exit(2);
}
for (const name of ["POMBO_ADMIN_TOKEN", "POMBO_FLEET_TOKEN", "POMBO_SESSION_KEY"]) {
  if (!env[name]?.trim()) {
    process.stderr.write(`pombo: ${name} is not set (put it in .env; see .env.example)\n`);
    process.exit(2);
  }
}
const adminToken = env.POMBO_ADMIN_TOKEN!.trim();
const fleetToken = env.POMBO_FLEET_TOKEN!.trim();
// The edge this run serves; `npm run fleet` and `fleet:qr` derive the same URL from PORT.
const edgeUrl = localEdgeUrl(port);

/** Those of these that are set, for the edge's env file. */
const optionalVars = (names: string[]) => Object.fromEntries(names.flatMap((name) => (env[name]?.trim() ? [[name, env[name]!.trim()]] : [])));

// The edge's secrets go only through its env file; .env also holds the fleet's
// session key, which the edge must never see.
const { POMBO_ADMIN_TOKEN: _a, POMBO_FLEET_TOKEN: _f, POMBO_DATA_KEY: _d, POMBO_SESSION_KEY: _s, ...envWithoutSecrets } = env;
const wranglerEnv: NodeJS.ProcessEnv = {
  ...envWithoutSecrets,
  WRANGLER_SEND_METRICS: env.WRANGLER_SEND_METRICS ?? "false",
  CLOUDFLARE_CF_FETCH_ENABLED: env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  WRANGLER_HIDE_BANNER: env.WRANGLER_HIDE_BANNER ?? "true",
  // Nothing but the env file given to `wrangler dev` (not .dev.vars, not .env).
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
};

// ---------------------------------------------------------------- this run

const run: RunRecord = { pid: process.pid, started: procStat(process.pid)!.started, run: randomUUID(), groups: [] };

// ---------------------------------------------------------------- children

type Child = { name: string; proc: ChildProcess; exited: Promise<number | null>; done: boolean };

function prefixLines(stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WriteStream) {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => out.write(`${prefix} ${line}\n`));
}

function startChild(name: string, argv: string[], childEnv: NodeJS.ProcessEnv, graceMs: number): Child {
  // Own process group, led by the supervisor: signals reach wrangler's workerd
  // children too, and a terminal Ctrl-C reaches only us, so the stop order
  // stays ours. The stdin pipe is the supervisor's line to us: never written,
  // closed by the kernel when we die.
  const proc = spawn(process.execPath, [SUPERVISE, String(graceMs), "--", process.execPath, ...argv], {
    cwd: ROOT,
    env: { ...childEnv, [RUN_ID_VAR]: run.run },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  if (proc.pid) {
    run.groups.push({ name, pgid: proc.pid });
    writeRunRecord(RUN_FILE, run);
  }
  prefixLines(proc.stdout, `[${name}]`, process.stdout);
  prefixLines(proc.stderr, `[${name}]`, process.stderr);
  const child: Child = { name, proc, done: false, exited: Promise.resolve(null) };
  child.exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      child.done = true;
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null));
    });
    proc.once("error", (err) => {
      process.stderr.write(`[pombo] could not start ${name}: ${err.message}\n`);
      child.done = true;
      resolve(1);
    });
  });
  return child;
}

function signalGroup(child: Child, signal: NodeJS.Signals) {
  if (child.done || !child.proc.pid) return;
  try {
    process.kill(-child.proc.pid, signal);
  } catch {
    try {
      child.proc.kill(signal);
    } catch {
      /* gone */
    }
  }
}

async function stopChild(child: Child | undefined, graceMs: number): Promise<void> {
  if (!child || child.done) return;
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => {
    say(`${child.name} did not stop in ${graceMs / 1000}s, killing it`);
    signalGroup(child, "SIGKILL");
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
  signalGroup(child, "SIGKILL"); // stragglers in the group (workerd)
}

async function runToEnd(argv: string[], what: string): Promise<void> {
  const child = startChild("edge", argv, wranglerEnv, EDGE_STOP_MS);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${what} failed (exit ${code})`);
}

function portInUse(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(p, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// ---------------------------------------------------------------- edge API

async function admin<T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(edgeUrl + p, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function waitForHealth(edge: Child): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (edge.done) throw new Error("the edge exited while starting");
    try {
      const res = await fetch(`${edgeUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the edge did not answer ${edgeUrl}/health within ${HEALTH_TIMEOUT_MS / 1000}s`);
}

async function ensureProject(): Promise<void> {
  const list = await admin<{ total: number; data: { id: string; name: string }[] }>("GET", "/admin/projects?limit=1");
  if (list.status !== 200) throw new Error(`GET /admin/projects answered ${list.status}: ${JSON.stringify(list.body)}`);
  if (list.body.total > 0 || list.body.data.length > 0) {
    const first = list.body.data[0]!;
    say(`a project already exists ("${first.name}", id ${first.id}); its API key was printed when it was created.`);
    say(`to make a new key for it (POMBO_ADMIN_TOKEN is in ${envFile ?? "your environment"}):`);
    say(`  curl -s -X POST ${edgeUrl}/admin/projects/${first.id}/keys -H "Authorization: Bearer $POMBO_ADMIN_TOKEN"`);
    return;
  }
  const created = await admin<{ id: string; name: string; api_key: string }>("POST", "/admin/projects", { name: "default" });
  if (created.status !== 201) throw new Error(`POST /admin/projects answered ${created.status}: ${JSON.stringify(created.body)}`);
  const { id, api_key } = created.body;
  const bar = "=".repeat(72);
  process.stdout.write(
    [
      "",
      bar,
      `  Project "default" created (id ${id}).`,
      "  Its API key, shown ONCE. Store it now:",
      "",
      `      ${api_key}`,
      "",
      "  Try it:",
      `      export POMBO_API_KEY=${api_key}`,
      `      curl -s -X POST ${edgeUrl}/instances -H "Authorization: Bearer $POMBO_API_KEY" \\`,
      `           -H "Content-Type: application/json" -d '{"name":"my-number"}'`,
      `  API reference: ${edgeUrl}/docs`,
      bar,
      "",
    ].join("\n") + "\n",
  );
}

// ---------------------------------------------------------------- main

let edge: Child | undefined;
let fleet: Child | undefined;
let stopping = false;
/** Set once the run file is ours (not while another start is running). */
let ownsRun = false;

async function shutdown(code: number, why: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    say(`${why}; stopping`);
    // The fleet first: its drain releases leases at the edge.
    await stopChild(fleet, FLEET_STOP_MS);
    await stopChild(edge, EDGE_STOP_MS);
    if (ownsRun) {
      rmSync(RUN_FILE, { force: true });
      rmSync(EDGE_VARS_FILE, { force: true });
    }
  }
  process.exit(code);
}

let signals = 0;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) {
      say(`second ${sig}, killing everything`);
      if (fleet) signalGroup(fleet, "SIGKILL");
      if (edge) signalGroup(edge, "SIGKILL");
      process.exit(130);
    }
    void shutdown(0, `${sig} received`);
  });
}

try {
  say(`config from ${envFile ?? "the environment only"}${envFile ? " (environment wins)" : ""}`);
  mkdirSync(LOCAL_DIR, { recursive: true, mode: 0o700 });
  await clearStaleRun(RUN_FILE, say);
  writeRunRecord(RUN_FILE, run);
  ownsRun = true;
  if (await portInUse(port)) {
    throw new Error(`port ${port} is already in use on 127.0.0.1 (set PORT in .env, or stop what listens there)`);
  }
  if (fresh) {
    say(`--fresh: wiping ${path.relative(ROOT, STATE_DIR)}`);
    rmSync(STATE_DIR, { recursive: true, force: true });
  }
  mkdirSync(STATE_DIR, { recursive: true });

  say("applying database migrations");
  await runToEnd([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR], "migrations");

  // The edge resolves client URLs' names like this machine does (an operator's POMBO_DOH_URL wins).
  const dohUrl = env.POMBO_DOH_URL?.trim() || (await startLocalDoh()).url;
  say(`starting the edge on ${edgeUrl}`);
  edge = startChild(
    "edge",
    [
      WRANGLER,
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      STATE_DIR,
      "--show-interactive-dev-session=false",
      ...edgeVarsFileArgs(EDGE_VARS_FILE, {
        POMBO_ADMIN_TOKEN: adminToken,
        POMBO_FLEET_TOKEN: fleetToken,
        ...localEdgeVars(env.POMBO_PUBLIC_URL?.trim() || edgeUrl, dohUrl),
        ...optionalVars(["POMBO_DATA_KEY", "POMBO_ALLOW_PRIVATE_NETWORKS", "MEDIA_URL_TTL", "POMBO_WEBHOOK_RETRY_BASE_S", "POMBO_WEBHOOK_RETRY_MAX_S"]),
      }),
    ],
    { ...wranglerEnv, ...WRANGLER_ENV_FILE_ENV },
    EDGE_STOP_MS,
  );
  void edge.exited.then((code) => {
    if (!stopping) void shutdown(code || 1, `the edge exited (code ${code})`);
  });
  await waitForHealth(edge);
  say(`edge is up: ${edgeUrl}`);

  await ensureProject();

  say("starting a fleet process");
  fleet = startChild("fleet", [path.join(ROOT, "fleet", "main.ts")], {
    ...env,
    POMBO_EDGE_URL: edgeUrl,
    POMBO_LOG_LEVEL: env.POMBO_LOG_LEVEL || "info",
    // The inbound spool lives with the rest of the local state (POMBO_LOCAL_DIR).
    POMBO_FLEET_DATA_DIR: env.POMBO_FLEET_DATA_DIR || path.join(LOCAL_DIR, "fleet"),
  }, FLEET_STOP_MS);
  void fleet.exited.then((code) => {
    if (!stopping) void shutdown(code || 1, `the fleet exited (code ${code})`);
  });
  say("ready. Ctrl-C stops everything.");
} catch (err) {
  process.stderr.write(`[pombo] ${(err as Error).message}\n`);
  await shutdown(1, "start-up failed");
}

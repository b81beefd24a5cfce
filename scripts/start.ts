/**
 * `npm start`: the whole of Pombo on one machine.
 *
 *  1. Loads `.env` (or `.env.example` when there is no `.env`); variables
 *     already in the environment win.
 *  2. Applies the D1 migrations to the local state in `.pombo/state`
 *     (`npm start -- --fresh` wipes that state first), and says so in one
 *     line (wrangler's own output, a table per migration, only on failure).
 *  3. Runs the edge (`wrangler dev`) on PORT and waits for /health.
 *  4. Starts one fleet process pointed at the edge, its log as text lines.
 *  5. On a fresh state creates a project named "default". Once the fleet is
 *     linked and the children's start-up output has settled, prints its API
 *     key once, last, where a newcomer sees it (or, on later starts, how to
 *     make a new key).
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
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { constants } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { localEdgeUrl, portOf } from "../fleet/edge-url.ts";
import { randomSecretProblem } from "../shared/secret-rules.ts";
import { loadedEnvFile } from "./load-env.ts";
import { startLocalDoh } from "./local-doh.ts";
import { edgeVarsFileArgs, localEdgeVars, WRANGLER_ENV_FILE_ENV } from "./local-edge-vars.ts";
import { clearStaleRun, procStat, RUN_ID_VAR, writeRunRecord, type RunRecord } from "./local-run.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const SUPERVISE = path.join(ROOT, "scripts", "supervise.ts");
const MIGRATIONS_DIR = path.join(ROOT, "migrations");
const HEALTH_TIMEOUT_MS = 90_000;
/** How long the fleet may take to link to the edge before the banner is printed anyway. */
const FLEET_LINK_TIMEOUT_MS = 20_000;
/** The children's output is settled once they said nothing this long (waiting at most SETTLE_MAX_MS). */
const QUIET_MS = 750;
const SETTLE_MAX_MS = 5_000;
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
// The fleet would refuse it too, but only after the edge started: say it first, as the fleet does.
const sessionKeyProblem = randomSecretProblem(env.POMBO_SESSION_KEY, { allowExample: true });
if (sessionKeyProblem) {
  process.stderr.write(`pombo: POMBO_SESSION_KEY ${sessionKeyProblem}\n`);
  process.exit(2);
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

/** When a child last printed something: the banner waits for a quiet moment. */
let lastChildOutputAt = Date.now();

function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void) {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
    lastChildOutputAt = Date.now();
    onLine(line);
  });
}

/** `onLine`: where its output goes instead of our stdout/stderr with a [name] prefix. */
function startChild(name: string, argv: string[], childEnv: NodeJS.ProcessEnv, graceMs: number, onLine?: (line: string) => void): Child {
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
  eachLine(proc.stdout, onLine ?? ((line) => process.stdout.write(`[${name}] ${line}\n`)));
  eachLine(proc.stderr, onLine ?? ((line) => process.stderr.write(`[${name}] ${line}\n`)));
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

/**
 * `wrangler d1 migrations apply` reprints its whole table after each
 * migration it applies (17 tables on a fresh state): kept back, and shown
 * only if it fails. One line says what happened.
 */
async function applyMigrations(): Promise<void> {
  const lines: string[] = [];
  const child = startChild("edge", [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR], wranglerEnv, EDGE_STOP_MS, (line) => lines.push(line));
  const code = await child.exited;
  if (code !== 0) {
    for (const line of lines) process.stderr.write(`[edge] ${line}\n`);
    throw new Error(`database migrations failed (exit ${code})`);
  }
  const total = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith(".sql")).length;
  const applied = Number(/About to apply (\d+) migration/.exec(lines.join("\n"))?.[1] ?? 0);
  say(`database: ${total} migrations, ${applied ? `${applied} applied now` : "none new to apply"}`);
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
      // Serving, but short of a secret (e.g. no POMBO_DATA_KEY: no OTP sends): say which, and go on.
      const health = res.status === 503 ? ((await res.json().catch(() => null)) as { d1?: { ok: boolean }; missing?: string[] } | null) : null;
      if (health?.d1?.ok && health.missing?.length) {
        say(`the edge is missing ${health.missing.join(", ")} (put it in .env; see .env.example); starting anyway`);
        return;
      }
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the edge did not answer ${edgeUrl}/health within ${HEALTH_TIMEOUT_MS / 1000}s`);
}

/** Until the fleet process is linked to the edge (false: not within the timeout). */
async function waitForFleetLink(fleetChild: Child): Promise<boolean> {
  const deadline = Date.now() + FLEET_LINK_TIMEOUT_MS;
  // Each look is a line in the edge's log: not too often (a fleet takes a few seconds to start).
  while (Date.now() < deadline && !fleetChild.done) {
    await new Promise((r) => setTimeout(r, 1_000));
    const fleets = await admin<{ data: unknown[] }>("GET", "/admin/fleets").catch(() => null);
    if (fleets?.status === 200 && fleets.body.data.length > 0) return true;
  }
  return false;
}

/** Until the children said nothing for QUIET_MS (at most SETTLE_MAX_MS): what we print then is not buried. */
async function outputSettled(): Promise<void> {
  const deadline = Date.now() + SETTLE_MAX_MS;
  while (Date.now() - lastChildOutputAt < QUIET_MS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** Makes the "default" project on a fresh state; answers what to print about it: its key once, or how to make one. */
async function ensureProject(): Promise<string> {
  const list = await admin<{ total: number; data: { id: string; name: string }[] }>("GET", "/admin/projects?limit=1");
  if (list.status !== 200) throw new Error(`GET /admin/projects answered ${list.status}: ${JSON.stringify(list.body)}`);
  if (list.body.total > 0 || list.body.data.length > 0) {
    const first = list.body.data[0]!;
    return [
      `a project already exists ("${first.name}", id ${first.id}); its API key was printed when it was created.`,
      `to make a new key for it (POMBO_ADMIN_TOKEN is in ${envFile ?? "your environment"}):`,
      `  curl -s -X POST ${edgeUrl}/admin/projects/${first.id}/keys -H "Authorization: Bearer $POMBO_ADMIN_TOKEN"`,
    ]
      .map((line) => `[pombo] ${line}\n`)
      .join("");
  }
  const created = await admin<{ id: string; name: string; api_key: string }>("POST", "/admin/projects", { name: "default" });
  if (created.status !== 201) throw new Error(`POST /admin/projects answered ${created.status}: ${JSON.stringify(created.body)}`);
  const { id, api_key } = created.body;
  const bar = "=".repeat(72);
  return (
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
    ].join("\n") + "\n"
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
  await applyMigrations();

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
        ...optionalVars(["POMBO_DATA_KEY", "POMBO_ALLOW_PRIVATE_NETWORKS", "MEDIA_URL_TTL", "POMBO_WEBHOOK_RETRY_BASE_S", "POMBO_WEBHOOK_RETRY_MAX_S", "POMBO_EVENT_SHARDS"]),
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

  say("starting a fleet process");
  fleet = startChild("fleet", [path.join(ROOT, "fleet", "main.ts")], {
    ...env,
    POMBO_EDGE_URL: edgeUrl,
    POMBO_LOG_LEVEL: env.POMBO_LOG_LEVEL || "info",
    // Read by a person here: short lines (POMBO_LOG_FORMAT=json keeps pino's JSON).
    POMBO_LOG_FORMAT: env.POMBO_LOG_FORMAT || "text",
    // The inbound spool lives with the rest of the local state (POMBO_LOCAL_DIR).
    POMBO_FLEET_DATA_DIR: env.POMBO_FLEET_DATA_DIR || path.join(LOCAL_DIR, "fleet"),
  }, FLEET_STOP_MS);
  void fleet.exited.then((code) => {
    if (!stopping) void shutdown(code || 1, `the fleet exited (code ${code})`);
  });
  const linked = await waitForFleetLink(fleet);
  const project = await ensureProject();
  await outputSettled();
  if (!linked) say(`the fleet has not linked to the edge within ${FLEET_LINK_TIMEOUT_MS / 1000}s; its lines above say why`);
  process.stdout.write(`[pombo] ready. Ctrl-C stops everything.\n${project}`);
} catch (err) {
  process.stderr.write(`[pombo] ${(err as Error).message}\n`);
  await shutdown(1, "start-up failed");
}

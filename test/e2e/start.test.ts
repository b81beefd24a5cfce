/**
 * `npm start` (scripts/start.ts) as real processes: a hard kill of it takes
 * the edge (wrangler, workerd) and the fleet with it; a run whose children
 * survived anyway is cleared by the next start; and no command line in its
 * process tree (what `ps` shows any user) holds a secret. Also the e2e
 * harness's own edge, which the benchmarks use too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LOCAL_R2_CREDENTIALS } from "../../scripts/local-edge-vars.ts";
import { procStat } from "../../scripts/local-run.ts";
import { AdminClient } from "../harness/client.ts";
import { startEdge } from "../harness/edge.ts";
import { freePort, ROOT } from "../harness/processes.ts";
import { sleep, waitFor } from "../harness/waits.ts";

const SECRETS = {
  POMBO_ADMIN_TOKEN: "start-test-admin-$ecret#1",
  POMBO_FLEET_TOKEN: "start-test-fleet-secret-2",
  POMBO_DATA_KEY: "start-test-data-key-secret-3",
  POMBO_SESSION_KEY: "start-test-session-key-secret-4",
};
const SECRET_VALUES = [...Object.values(SECRETS), LOCAL_R2_CREDENTIALS.secretAccessKey];

// ---------------------------------------------------------------- /proc

interface Proc {
  pid: number;
  started: number;
  cmdline: string;
}

const stat = procStat;

/** `pid` and all its descendants, with their command lines as `ps` shows them. */
function processTree(pid: number): Proc[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const p = Number(entry);
    if (!Number.isInteger(p)) continue;
    const s = stat(p);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  }
  const out: Proc[] = [];
  const walk = (p: number) => {
    const s = stat(p);
    if (!s) return;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      /* gone meanwhile */
    }
    out.push({ pid: p, started: s.started, cmdline });
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Running: exists, is not a zombie, and is the same process (pid not reused). */
const running = (p: Proc) => {
  const s = stat(p.pid);
  return !!s && s.state !== "Z" && s.started === p.started;
};

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------- npm start

interface Start {
  proc: ChildProcess;
  pid: number;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const started: Start[] = [];
const trees: Proc[][] = [];

function npmStart(localDir: string, port: number, env: NodeJS.ProcessEnv = {}): Start {
  const proc = spawn(process.execPath, [path.join(ROOT, "scripts/start.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...SECRETS,
      PORT: String(port),
      POMBO_LOCAL_DIR: localDir,
      POMBO_WA_URL: "",
      POMBO_EDGE_URL: `http://127.0.0.1:${port}`,
      POMBO_ALLOW_PRIVATE_NETWORKS: "false",
      POMBO_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const s = { proc, pid: proc.pid!, port, output: () => out, exited };
  started.push(s);
  return s;
}

async function ready(s: Start): Promise<void> {
  let gone = false;
  void s.exited.then(() => (gone = true));
  await waitFor(
    () => {
      if (gone) throw new Error(`npm start exited:\n${s.output()}`);
      return s.output().includes("ready. Ctrl-C stops everything.");
    },
    150_000,
    { intervalMs: 250, what: "npm start to be ready" },
  );
}

async function health(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) })).status;
}

/** The processes themselves, not the supervisors whose command lines name them. */
const isFleet = (p: Proc) => p.cmdline.includes("fleet/main.ts") && !p.cmdline.includes("supervise.ts");
const isWorkerd = (p: Proc) => p.cmdline.includes("workerd serve");

/** The whole tree, once the fleet (the last child) is up. */
async function treeWithFleet(s: Start): Promise<Proc[]> {
  return await waitFor(
    () => {
      const tree = processTree(s.pid);
      return tree.some(isFleet) && tree.some(isWorkerd) ? tree : null;
    },
    10_000,
    { what: "edge and fleet in npm start's process tree" },
  );
}

describe("e2e: npm start survives a hard kill", () => {
  const localDir = mkdtempSync(path.join(tmpdir(), "pombo-start-test-"));

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") for (const s of started) console.log(`--- npm start (pid ${s.pid}) output ---\n${s.output().slice(-4000)}`);
  });
  afterAll(async () => {
    // Whatever a failed test left: only processes this file started.
    for (const tree of trees) for (const p of tree) if (running(p)) process.kill(p.pid, "SIGKILL");
    for (const s of started) if (s.proc.exitCode === null) s.proc.kill("SIGKILL");
    await sleep(200);
    rmSync(localDir, { recursive: true, force: true });
  });

  it("what a newcomer sees: one line for the migrations, the key banner last once the fleet's start-up lines are out, a number that cannot reach WhatsApp retrying in one short line per attempt; no command line in npm start's process tree shows the admin token, fleet token, data key, session key or R2 secret; SIGKILL of npm start then takes edge and fleet down within 15 s and frees the port", async () => {
    // WhatsApp where nothing listens: the instance keeps retrying with reason transient, as offline.
    const waPort = await freePort();
    const s = npmStart(localDir, await freePort(), { POMBO_LOG_LEVEL: "", POMBO_WA_URL: `ws://127.0.0.1:${waPort}/ws` });
    await ready(s);
    await sleep(1_000); // what comes next is not start-up output
    const out = s.output();
    const migrations = readdirSync(path.join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).length;
    expect(out.match(/database: /g)).toHaveLength(1);
    expect(out).toContain(`[pombo] database: ${migrations} migrations, ${migrations} applied now\n`);
    expect(out).not.toMatch(/[┌│└]/); // wrangler's tables
    // The banner, then nothing: the edge's and the fleet's start-up lines all came before it.
    const bar = "=".repeat(72);
    expect(out.trimEnd().endsWith(bar)).toBe(true);
    const banner = out.indexOf('Project "default" created');
    for (const line of ["[pombo] starting a fleet process", "[fleet]", "directory connected", "[edge] [wrangler:info] Ready on", "[pombo] ready. Ctrl-C stops everything."]) {
      expect(out.indexOf(line), line).toBeGreaterThan(-1);
      expect(out.lastIndexOf(line), line).toBeLessThan(banner);
    }

    const apiKey = /pb_live_\w+/.exec(out)![0];
    const created = await fetch(`http://127.0.0.1:${s.port}/instances`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "offline" }),
    });
    const { id } = (await created.json()) as { id: string };
    const retry = (attempt: number) =>
      new RegExp(`^\\[fleet\\] \\d\\d:\\d\\d:\\d\\d ${id.slice(0, 8)} reconnect scheduled attempt=${attempt} in_ms=\\d+ close_code=\\d+ reason=transient err="[^"\\n]*ECONNREFUSED[^"\\n]*"$`, "m");
    await waitFor(() => retry(3).test(s.output()), 30_000, { what: "the third reconnect line" });
    const after = s.output().slice(out.length);
    for (const attempt of [1, 2, 3]) expect(after).toMatch(retry(attempt));
    // Each attempt is that line alone: no JSON, no stack trace, no per-attempt status lines after the first.
    expect(after).not.toMatch(/^\[fleet\] \{/m);
    expect(after).not.toMatch(/^\[fleet\]\s+at /m);
    expect(after).not.toContain("trace");
    expect(after.match(/status connecting/g)).toHaveLength(1);
    expect(await health(s.port)).toBe(200);
    const tree = await treeWithFleet(s);
    trees.push(tree);
    expect(tree.length).toBeGreaterThanOrEqual(5);
    for (const p of tree) for (const secret of SECRET_VALUES) expect(p.cmdline, `pid ${p.pid}`).not.toContain(secret);
    // The edge still got its secrets: the admin token works.
    expect((await new AdminClient(`http://127.0.0.1:${s.port}`, SECRETS.POMBO_ADMIN_TOKEN).listProjects()).total).toBe(1);

    const t0 = Date.now();
    s.proc.kill("SIGKILL");
    await s.exited;
    await waitFor(() => tree.every((p) => !running(p)), 15_000, {
      what: "every process of the killed run to exit",
      intervalMs: 100,
    }).catch((err) => {
      throw new Error(`${(err as Error).message}\nstill running:\n${tree.filter(running).map((p) => `${p.pid} ${p.cmdline}`).join("\n")}`);
    });
    await waitFor(() => portFree(s.port), 5_000, { what: `port ${s.port} to be free` });
    console.log(`npm start SIGKILLed: ${tree.length} processes gone and the port free in ${Date.now() - t0} ms`);
  });

  it("a start refuses while another runs on the same local state; a run whose supervisors were SIGKILLed too (children left behind, stopped, holding the port and database) is cleared by the next start, which serves /health", async () => {
    const port = await freePort();
    const first = npmStart(localDir, port);
    await ready(first);
    const tree = await treeWithFleet(first);
    trees.push(tree);

    const second = npmStart(localDir, await freePort());
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(new RegExp(`another npm start is running \\(pid ${first.pid}\\)`));
    expect(await health(port)).toBe(200);

    // What an OOM kill of npm start and its supervisors leaves behind. The
    // children are stopped first so that none can notice its dead stdout pipe
    // and exit by itself before the next start has to clear it.
    const supervisors = tree.filter((p) => p.cmdline.includes("scripts/supervise.ts"));
    expect(supervisors.length).toBe(2);
    for (const p of tree) if (p.pid !== first.pid && !supervisors.includes(p)) process.kill(p.pid, "SIGSTOP");
    for (const p of supervisors) process.kill(p.pid, "SIGKILL");
    first.proc.kill("SIGKILL");
    await first.exited;
    await sleep(1_000);
    const orphans = tree.filter(running);
    expect(orphans.some(isWorkerd)).toBe(true);
    expect(orphans.some(isFleet)).toBe(true);
    expect(await portFree(port)).toBe(false);

    const third = npmStart(localDir, port, { POMBO_LOG_LEVEL: "" });
    await ready(third);
    // Said once the fleet is linked and its start-up lines are out.
    const linkedAt = third.output().indexOf("[fleet] ");
    expect(linkedAt).toBeGreaterThan(-1);
    expect(third.output().indexOf("directory connected")).toBeGreaterThan(linkedAt);
    expect(third.output().indexOf("a project already exists")).toBeGreaterThan(third.output().indexOf("directory connected"));
    expect(third.output()).toContain("[pombo] database: ");
    expect(third.output()).toContain(" migrations, none new to apply\n");
    expect(third.output()).toMatch(/a previous run \(pid \d+\) died and left \d+ process\(es\) behind/);
    expect(tree.filter(running)).toEqual([]);
    expect(await health(port)).toBe(200);
    // The old database is the one served: the project made by the first run is there.
    expect(third.output()).toContain('a project already exists ("default"');

    third.proc.kill("SIGINT");
    expect(await third.exited).toBe(0);
    // The run's record and the edge's secrets file are gone; the state and the fleet's spool stay.
    expect(readdirSync(localDir).sort()).toEqual(["fleet", "state"]);
  });

  it("the e2e harness's edge (also the benchmarks') gets its variables without putting them on wrangler's command line", async () => {
    const edge = await startEdge({ adminToken: SECRETS.POMBO_ADMIN_TOKEN, fleetToken: SECRETS.POMBO_FLEET_TOKEN });
    try {
      const tree = processTree(edge.pid);
      trees.push(tree);
      expect(tree.some(isWorkerd)).toBe(true);
      for (const p of tree) for (const secret of [SECRETS.POMBO_ADMIN_TOKEN, SECRETS.POMBO_FLEET_TOKEN, LOCAL_R2_CREDENTIALS.secretAccessKey, "e2e-data-key"]) {
        expect(p.cmdline, `pid ${p.pid}`).not.toContain(secret);
      }
      expect((await new AdminClient(edge.url, SECRETS.POMBO_ADMIN_TOKEN).listProjects()).total).toBe(0);
    } finally {
      await edge.stop();
    }
  });
});

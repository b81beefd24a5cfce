/**
 * The record of a running `npm start` (`.pombo/run.json`), and the clearing of
 * a previous run whose children outlived it.
 *
 * Children normally die with `npm start` (scripts/supervise.ts), but a
 * supervisor can be SIGKILLed too (the OOM killer picks big trees), leaving
 * wrangler and workerd holding the port and the local database. So each run
 * records its process groups, and every child carries the run's id in its
 * environment; the next start kills only processes that are in a recorded
 * group AND carry that id, so a recycled pid is never mistaken for ours.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

/** Environment variable naming the run a process belongs to. */
export const RUN_ID_VAR = "POMBO_RUN_ID";

export interface RunRecord {
  /** The `npm start` process, and its start time (clock ticks since boot) so a reused pid is not it. */
  pid: number;
  started: number;
  run: string;
  /** Process groups of the children (each led by a supervisor). */
  groups: { name: string; pgid: number }[];
}

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  started: number;
}

/** Fields of /proc/<pid>/stat, or null once the process is gone. */
export function procStat(pid: number): ProcStat | null {
  try {
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), started: Number(f[19]) };
  } catch {
    return null;
  }
}

/** True while `pid` runs and is the process that had `started` as its start time. */
export function isAlive(pid: number, started?: number): boolean {
  const s = procStat(pid);
  return !!s && s.state !== "Z" && (started === undefined || s.started === started);
}

function carriesRun(pid: number, runId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`${RUN_ID_VAR}=${runId}`);
  } catch {
    return false;
  }
}

/** Live processes in `pgids` that carry `runId` in their environment. */
export function runProcesses(runId: string, pgids: number[]): { pid: number; started: number }[] {
  const groups = new Set(pgids);
  const found: { pid: number; started: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const s = procStat(pid);
    if (s && s.state !== "Z" && groups.has(s.pgrp) && carriesRun(pid, runId)) found.push({ pid, started: s.started });
  }
  return found;
}

export function readRunRecord(file: string): RunRecord | null {
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as RunRecord;
    return Number.isInteger(r.pid) && typeof r.run === "string" && Array.isArray(r.groups) ? r : null;
  } catch {
    return null;
  }
}

export function writeRunRecord(file: string, record: RunRecord): void {
  writeFileSync(file, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(procs: { pid: number; started: number }[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (procs.some((p) => isAlive(p.pid, p.started))) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Clears what a previous run left behind. Throws when that run's `npm start`
 * is still alive (two starts must not share one local database).
 */
export async function clearStaleRun(file: string, say: (line: string) => void, graceMs = 5_000): Promise<void> {
  const previous = readRunRecord(file);
  if (!previous) return;
  if (isAlive(previous.pid, previous.started)) {
    throw new Error(`another npm start is running (pid ${previous.pid}); stop it first (Ctrl-C there, or kill ${previous.pid})`);
  }
  const left = runProcesses(
    previous.run,
    previous.groups.map((g) => g.pgid),
  );
  if (left.length) {
    say(`a previous run (pid ${previous.pid}) died and left ${left.length} process(es) behind (${left.map((p) => p.pid).join(", ")}); stopping them`);
    const signal = (sig: NodeJS.Signals) => {
      for (const p of left) {
        if (!isAlive(p.pid, p.started)) continue;
        try {
          process.kill(p.pid, sig);
        } catch {
          /* gone */
        }
      }
    };
    signal("SIGTERM");
    signal("SIGCONT"); // a stopped process (a dead shell's suspended job) acts on SIGTERM only once continued
    if (!(await waitGone(left, graceMs))) {
      signal("SIGKILL");
      if (!(await waitGone(left, graceMs))) {
        throw new Error(`could not stop the previous run's processes: ${left.filter((p) => isAlive(p.pid, p.started)).map((p) => p.pid).join(", ")}`);
      }
    }
  }
  rmSync(file, { force: true });
}

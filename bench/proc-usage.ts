/**
 * What processes use, from /proc (Linux), for the benchmarks: CPU time of
 * process groups (which process spent the CPU during a phase -- the edge's
 * workerd, the fleet, the bench itself -- tells where a pipeline's time goes)
 * and resident memory.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS = 100;

/** CPU seconds (user + system) used so far by every live process in group `pgid`. */
export function groupCpuSeconds(pgid: number): number {
  return Object.values(groupCpuByName(pgid)).reduce((a, b) => a + b, 0);
}

/** The same, split by process name (`node`, `workerd`, ...). */
export function groupCpuByName(pgid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // The command sits in parentheses (and may contain spaces); fields follow it.
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] = state (field 3), rest[2] = pgrp (5), rest[11] = utime (14), rest[12] = stime (15).
    if (Number(rest[2]) !== pgid) continue;
    out[comm] = (out[comm] ?? 0) + (Number(rest[11]) + Number(rest[12])) / TICKS;
  }
  return out;
}

/**
 * The edge's workerd CPU seconds, split in two. `wrangler dev` runs the Worker
 * in one workerd process (the runtime: every isolate and Durable Object, and
 * the D1, R2 and queue simulators) and puts a second workerd on the public
 * port in front of it: its dev proxy, which holds requests while the Worker
 * reloads and relays every request and WebSocket frame. Cloudflare runs no such
 * proxy, so the edge's own figure is the runtime's. The proxy is the workerd
 * whose entry socket is `publicPort`; if none is found, all counts as runtime.
 */
export function edgeWorkerdCpu(pgid: number, publicPort: number): { runtime: number; devProxy: number } {
  const out = { runtime: 0, devProxy: 0 };
  for (const w of edgeWorkerds(pgid, publicPort)) out[w.devProxy ? "devProxy" : "runtime"] += w.seconds;
  return out;
}

/** The edge's workerd processes (see edgeWorkerdCpu): pid, CPU seconds so far, and whether it is the dev proxy. */
function edgeWorkerds(pgid: number, publicPort: number): { pid: string; seconds: number; devProxy: boolean }[] {
  const out: { pid: string; seconds: number; devProxy: boolean }[] = [];
  const entry = new RegExp(`^--socket-addr=entry=.*:${publicPort}$`);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    let args: string[];
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== "workerd") continue;
      args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(rest[2]) !== pgid) continue;
    out.push({ pid: name, seconds: (Number(rest[11]) + Number(rest[12])) / TICKS, devProxy: args.some((a) => entry.test(a)) });
  }
  return out;
}

/**
 * Seconds the edge's runtime workerd (every isolate, Durable Object and
 * simulator runs on its main thread) has spent runnable but waiting for a
 * core (/proc/<pid>/task/<pid>/schedstat, 2nd field): when the machine is
 * saturated, everything the edge does waits this long on top of its CPU.
 */
export function edgeRuntimeWaitSeconds(pgid: number, publicPort: number): number {
  const runtime = edgeWorkerds(pgid, publicPort).find((w) => !w.devProxy);
  if (!runtime) return NaN;
  try {
    return Number(readFileSync(`/proc/${runtime.pid}/task/${runtime.pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) used so far by process `pid` (NaN once it is gone). */
export function pidCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process (user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Samples named sources every `everyMs` until `stop()`, which gives what
 * each used in every window, oldest first: where the machine's CPU went
 * over a run, not only in total.
 */
export function cpuWindows(sources: Record<string, () => number>, everyMs: number) {
  const read = () => Object.fromEntries(Object.entries(sources).map(([k, f]) => [k, f()]));
  const samples = [read()];
  const timer = setInterval(() => samples.push(read()), everyMs);
  return {
    stop(): Record<string, number>[] {
      clearInterval(timer);
      samples.push(read());
      return samples.slice(1).map((now, i) => Object.fromEntries(Object.keys(sources).map((k) => [k, now[k]! - samples[i]![k]!])));
    },
  };
}

/** Starts a measurement over named sources; `stop()` gives the seconds each used since. */
export function cpuMeter(sources: Record<string, () => number>) {
  const start = Object.fromEntries(Object.entries(sources).map(([k, f]) => [k, f()]));
  return {
    stop(): Record<string, number> {
      return Object.fromEntries(Object.entries(sources).map(([k, f]) => [k, f() - start[k]!]));
    },
  };
}

/** CPU seconds per thread of every process in group `pgid`, keyed `<comm>/<thread name>#<tid>`. */
export function groupThreadCpu(pgid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(rest[2]) !== pgid) continue;
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const t = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const name = t.slice(t.indexOf("(") + 1, t.lastIndexOf(")"));
        const r = t.slice(t.lastIndexOf(")") + 2).split(" ");
        out[`${comm}/${name}#${tid}`] = (Number(r[11]) + Number(r[12])) / TICKS;
      } catch {
        /* thread gone */
      }
    }
  }
  return out;
}

/** Seconds each thread used between two `groupThreadCpu` readings, busiest first. */
export function threadDelta(before: Record<string, number>, after: Record<string, number>): [string, number][] {
  return Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as [string, number])
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
}

/** CPU seconds the whole machine has spent busy (all cores, from /proc/stat), and its core count. */
export function machineCpuSeconds(): number {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) / TICKS;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

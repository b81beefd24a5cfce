/**
 * CPU profile of the edge's Worker isolate (routes and Durable Objects) under
 * `wrangler dev`, through the inspector port wrangler proxies: the Chrome
 * DevTools protocol's Profiler domain. The result is a `.cpuprofile` that
 * Chrome DevTools or speedscope open, and `summarizeProfile` reads.
 */
import { readFileSync, writeFileSync } from "node:fs";
import WebSocket from "ws";

/** The `--inspector-port` a `wrangler dev` process was started with (from /proc). */
export function inspectorPortOf(wranglerPid: number): number {
  const args = readFileSync(`/proc/${wranglerPid}/cmdline`, "utf8").split("\0");
  const i = args.indexOf("--inspector-port");
  if (i < 0) throw new Error(`wrangler (pid ${wranglerPid}) has no --inspector-port`);
  return Number(args[i + 1]);
}

export type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};

export async function startEdgeProfile(port: number, samplingIntervalUs = 500): Promise<{ stop(): Promise<CpuProfile> }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  if (!targets[0]) throw new Error("the edge's inspector lists no target");
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  const call = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
  await call("Profiler.start");
  return {
    async stop() {
      const { profile } = await call<{ profile: CpuProfile }>("Profiler.stop");
      ws.close();
      return profile;
    },
  };
}

/**
 * Where the isolate's time went: self time per source file (the edge's own
 * files by path, libraries by package) and the top functions. Idle is left out
 * of the percentages.
 */
export function summarizeProfile(profile: CpuProfile, top = 15): { busyMs: number; idleMs: number; files: [string, number][]; functions: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const files = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    const file = fileKey(url, functionName);
    files.set(file, (files.get(file) ?? 0) + us);
    const fn = `${functionName || "(anonymous)"} ${file}${url ? `:${lineNumber + 1}` : ""}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, v / 1000] as [string, number]);
  return { busyMs: busy / 1000, idleMs: idle / 1000, files: sorted(files), functions: sorted(fns) };
}

function fileKey(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/(edge|shared)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^.*\//, "");
}

/** Writes the profile to `file` and logs where the isolate spent its time. */
export async function writeEdgeProfile(log: (line: string) => void, profile: CpuProfile, what: string, file: string): Promise<void> {
  writeFileSync(file, JSON.stringify(profile));
  const sum = summarizeProfile(profile);
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  log(`edge profile (${what}) written to ${file}: isolate ${f(sum.busyMs / 1000, 2)} s busy, ${f(sum.idleMs / 1000, 2)} s idle`);
  for (const [k, ms] of sum.files) log(`  ${f(ms, 0).padStart(7)} ms ${f((100 * ms) / sum.busyMs).padStart(5)}%  ${k}`);
  log("  top functions (self time):");
  for (const [k, ms] of sum.functions) log(`  ${f(ms, 0).padStart(7)} ms ${f((100 * ms) / sum.busyMs).padStart(5)}%  ${k}`);
}

/**
 * A Worker of a benchmark's own under `wrangler dev`, and workerd's CPU read
 * from /proc around what the bench asks of it: bench:floor (the platform's
 * operations) and bench:costs (Pombo's own code on the received path) stand
 * on it. The Worker answers `GET /setup` with its list of operations once
 * it is up (bench/floor-worker.ts, bench/costs-worker.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wranglerEnv } from "../test/harness/edge.ts";
import { runBench } from "../test/harness/cli.ts";
import { freePort, killGroup, ROOT, spawnLogged } from "../test/harness/processes.ts";
import { waitFor } from "../test/harness/waits.ts";
import { edgeWorkerdCpu } from "./proc-usage.ts";

export type BenchWorker<Setup> = {
  base: string;
  /** What `GET /setup` answered. */
  setup: Setup;
  /** workerd CPU seconds so far: the runtime (Worker, objects, D1) apart from wrangler's dev proxy. */
  cpu: () => { runtime: number; devProxy: number };
};

/** Per-operation CPU (ms, runtime and dev proxy) and wall time of `run`, which does `count` operations. */
export async function measureOps(worker: BenchWorker<unknown>, run: () => Promise<unknown>, count: number) {
  const a = worker.cpu();
  const t = performance.now();
  await run();
  const b = worker.cpu();
  return { runtime: (1000 * (b.runtime - a.runtime)) / count, proxy: (1000 * (b.devProxy - a.devProxy)) / count, wall: (performance.now() - t) / count };
}

/**
 * Runs `body` against `main` served by `wrangler dev` (config: `name`,
 * `main` and the `toml` lines after them), then stops wrangler and exits
 * (runBench).
 */
export function withBenchWorker<Setup>(
  name: string,
  main: string,
  toml: string[],
  log: (line: string) => void,
  body: (worker: BenchWorker<Setup>) => Promise<void>,
): Promise<never> {
  const dir = mkdtempSync(path.join(tmpdir(), `pombo-bench-${name}-`));
  let wrangler: { pid: number } | undefined;
  return runBench(
    log,
    {
      timeoutMs: 600_000,
      cleanup: async () => {
        if (wrangler) killGroup(wrangler.pid, "SIGTERM");
        rmSync(dir, { recursive: true, force: true });
      },
      diagnostics: () => `wrangler's log: ${path.join(dir, "wrangler.log")}`,
    },
    async () => {
      writeFileSync(
        path.join(dir, "wrangler.toml"),
        [`name = "pombo-${name}"`, `main = ${JSON.stringify(path.join(ROOT, main))}`, ...toml, ""].join("\n"),
      );
      const port = await freePort();
      const child = spawnLogged(
        path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
        ["dev", "--config", path.join(dir, "wrangler.toml"), "--port", String(port), "--ip", "127.0.0.1", "--persist-to", path.join(dir, "state"), "--log-level", "warn"],
        { env: wranglerEnv(), logPath: path.join(dir, "wrangler.log"), cwd: dir },
      );
      const pid = child.child.pid!;
      wrangler = { pid };
      const base = `http://127.0.0.1:${port}`;
      let setup: Setup | undefined;
      await waitFor(
        async () => {
          try {
            const res = await fetch(`${base}/setup`);
            if (res.ok) setup = (await res.json()) as Setup;
            return res.ok;
          } catch {
            return false;
          }
        },
        60_000,
        { what: "wrangler dev" },
      );
      await body({ base, setup: setup!, cpu: () => edgeWorkerdCpu(pid, port) });
    },
  );
}

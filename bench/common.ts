/** What the benchmarks share: option parsing, statistics, a worker pool, paging. */
import type { Instance, ProjectClient } from "../test/e2e/processes.ts";

/** A whole-number option, or exit 2 with a message naming it. */
export function int(name: string, text: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) {
    process.stderr.write(`--${name} must be a whole number >= ${min}, got "${text}"\n`);
    process.exit(2);
  }
  return v;
}

/** The q-quantile of sorted numbers (nearest rank). */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), mean, min: s[0] ?? NaN, max: s.at(-1) ?? NaN };
}

/** Runs `fn` over `items` with at most `width` at a time. */
export async function pool<T>(items: T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Every instance of the project, page by page. */
export async function listAll(api: ProjectClient): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let offset = 0; ; ) {
    const page = await api.listInstances(`?limit=100&offset=${offset}`);
    out.push(...page.data);
    offset += page.data.length;
    if (!page.data.length || offset >= page.total) return out;
  }
}

/** Ctrl-C or SIGTERM: clean up (stop the edge, fleet and peers), then exit non-zero. */
export function onInterrupt(log: (line: string) => void, cleanup: () => Promise<unknown>): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      process.exitCode = 1;
      void cleanup().then(() => process.exit(1));
    });
  }
}

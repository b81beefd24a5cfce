/**
 * What the benchmarks (and the chaos suite) share: option parsing,
 * statistics, a worker pool, a fixed-rate schedule, paging, duplicate counts.
 */
import { type Instance, type ProjectClient, sleep } from "./processes.ts";

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

/**
 * Runs `fn(i)` for i = 0..n-1 on a fixed schedule, `rate` per second, each
 * one on time whatever happened to the ones before (open loop: a slow answer
 * does not slow the next one down). Resolves when every call has settled.
 */
export async function openLoop(n: number, rate: number, fn: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await sleep(Math.max(0, start + (i * 1000) / rate - performance.now()));
      await fn(i);
    }),
  );
}

/** One message as a WhatsApp peer recorded it: its WhatsApp id and text. */
export type Received = { waId: string; text: string | null };

/** Same WhatsApp id recorded more than once; same text under more than one WhatsApp id. */
export function duplicates(arrivals: Received[]) {
  const byId = new Map<string, number>();
  const idsByText = new Map<string, Set<string>>();
  for (const a of arrivals) {
    byId.set(a.waId, (byId.get(a.waId) ?? 0) + 1);
    let ids = idsByText.get(a.text!);
    if (!ids) idsByText.set(a.text!, (ids = new Set()));
    ids.add(a.waId);
  }
  return {
    /** Extra copies of one WhatsApp id (a message recorded 3 times counts 2). */
    sameId: [...byId.values()].reduce((n, c) => n + c - 1, 0),
    /** Texts that arrived under two or more WhatsApp ids (sent twice as different messages). */
    bodiesTwice: [...idsByText.values()].filter((ids) => ids.size > 1).length,
    /** Those texts. */
    textsTwice: [...idsByText].filter(([, ids]) => ids.size > 1).map(([text]) => text),
  };
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

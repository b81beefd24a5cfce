/** What the benchmarks and the chaos suite compute from what they saw: latency quantiles, duplicates. */

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

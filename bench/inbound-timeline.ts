/**
 * `bench:inbound --timeline[=<file>]`: where each received message spent its
 * time, stage by stage, from clocks the bench can read honestly:
 *
 *   asked       this process asks the peer to send it (the bench's clock)
 *   on socket   the peer had put it on the number's socket (the peer's clock)
 *   spooled     the fleet wrote it to its spool (the fleet's "message
 *               received" log line, at info level): Baileys' receipt and
 *               decryption, with the number's Signal keys read from and
 *               written to the edge
 *   published   the event's `created_at`: the edge stored the message and
 *               hands the event to the hub (fleet, spool, link, receive, D1)
 *   queued      its webhook delivery row's `created_at`: the hub logged the
 *               event and started the delivery (its own first attempt, or a
 *               job to the queue carrying that time; the row is written
 *               with the first attempt)
 *   attempted   the first attempt's start (its `at`, written once its
 *               record was, less its `duration_ms`): for the hub's own
 *               attempt, nothing; through the queue, its wait and the
 *               consumer's read
 *   received    this process's webhook receiver read the body
 *
 * The fleet's log also says how many tries its drainer needed ("message
 * delivered", `attempts`). The last four come from the API (GET /webhooks/{id}/deliveries: every
 * delivery with its attempts), read once the run is over. All clocks are
 * this machine's. Prints each stage's p50/p99/max, what the slowest 1% spent
 * most of their time in, how many needed more than one attempt, and when
 * (seconds into the injection) and on which number the slow ones happened;
 * with a file, one JSON line per message for a closer look.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Client } from "../test/harness/client.ts";
import { stats } from "../test/harness/figures.ts";
import type { Delivery } from "../test/harness/webhook-receiver.ts";

type Attempt = { attempt: number; status_code: number | null; error: string | null; duration_ms: number; at: string };
type DeliveryRow = { event_id: string; created_at: string; attempts: number; history: Attempt[] };

export type Timeline = {
  body: string;
  /** The number (peer index) it was written to. */
  number: number;
  asked: number;
  onSocket: number | null;
  spooled: number | null;
  published: number;
  queued: number | null;
  attempted: number | null;
  received: number;
  /** Attempts the edge recorded for its delivery (1 = delivered at the first). */
  attempts: number | null;
  /** Tries the fleet's drainer needed to hand it to the edge (from its log). */
  drainTries: number | null;
  /** Deliveries the receiver got for the event (a retry after an answer that came too late, or never arrived). */
  delivered: number;
  /** Why the attempts before the last failed. */
  errors: string[];
};

const STAGES = [
  ["asked -> on socket (peer)", "asked", "onSocket"],
  ["on socket -> spooled (Baileys, Signal keys at the edge)", "onSocket", "spooled"],
  ["spooled -> published (drainer, link, edge receive, D1)", "spooled", "published"],
  ["published -> queued (hub: log, start the delivery)", "published", "queued"],
  ["queued -> 1st attempt (queued ones: queue wait, consumer's read)", "queued", "attempted"],
  ["1st attempt -> received (POST; retries)", "attempted", "received"],
] as const;

/** Every delivery of a webhook with its attempts, by event id (paged through the API). */
export async function deliveriesOf(api: Client, webhookId: string): Promise<Map<string, DeliveryRow>> {
  const out = new Map<string, DeliveryRow>();
  for (let offset = 0; ; offset += 500) {
    const page = await api.call<{ data: DeliveryRow[]; total: number }>("GET", `/webhooks/${webhookId}/deliveries?limit=500&offset=${offset}`);
    for (const d of page.data) out.set(d.event_id, d);
    if (page.data.length < 500 || offset + 500 >= page.total) return out;
  }
}

/** From a fleet log at info level: when each WhatsApp message was spooled, and how many tries its drainer needed. */
export function fleetLogTimes(logPath: string): Map<string, { spooled?: number; drainTries?: number }> {
  const out = new Map<string, { spooled?: number; drainTries?: number }>();
  let text = "";
  try {
    text = readFileSync(logPath, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    if (!line.includes('"message received"') && !line.includes('"message delivered"')) continue;
    let j: { time: number; msg: string; wa_message_id?: string; attempts?: number };
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    if (!j.wa_message_id) continue;
    let t = out.get(j.wa_message_id);
    if (!t) out.set(j.wa_message_id, (t = {}));
    if (j.msg === "message received") t.spooled ??= j.time;
    else t.drainTries = j.attempts;
  }
  return out;
}

export function timelines(
  first: Map<string, Delivery>,
  all: Delivery[],
  asked: Map<string, number>,
  onSocket: Map<string, number>,
  numberOf: (body: string) => number,
  rows: Map<string, DeliveryRow>,
  /** By body: its WhatsApp id, and the fleet log's times by WhatsApp id. */
  waIds: Map<string, string>,
  fleet: Map<string, { spooled?: number; drainTries?: number }>,
): Timeline[] {
  const copies = new Map<string, number>();
  for (const d of all) copies.set(d.id, (copies.get(d.id) ?? 0) + 1);
  return [...first].map(([body, d]) => {
    const row = rows.get(d.id);
    const firstAttempt = row?.history.find((a) => a.attempt === 1) ?? row?.history[0];
    const inFleet = fleet.get(waIds.get(body) ?? "");
    return {
      body,
      number: numberOf(body),
      asked: asked.get(body)!,
      onSocket: onSocket.get(body) ?? null,
      spooled: inFleet?.spooled ?? null,
      published: Date.parse(d.event.created_at),
      queued: row ? Date.parse(row.created_at) : null,
      attempted: firstAttempt ? Date.parse(firstAttempt.at) - firstAttempt.duration_ms : null,
      received: d.receivedAt,
      attempts: row?.attempts ?? null,
      drainTries: inFleet?.drainTries ?? null,
      delivered: copies.get(d.id) ?? 1,
      errors: (row?.history ?? []).filter((a) => a.error).map((a) => a.error!),
    };
  });
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

/** The report's lines (see the header). `start`: when the injection began (epoch ms). */
export function timelineReport(lines: Timeline[], start: number): string[] {
  const total = (t: Timeline) => t.received - t.asked;
  const span = (t: Timeline, from: keyof Timeline, to: keyof Timeline) => {
    const a = t[from] as number | null;
    const b = t[to] as number | null;
    return a === null || b === null ? NaN : b - a;
  };
  const out = [`  timeline of ${lines.length} delivered messages (ms):`];
  for (const [name, from, to] of STAGES) {
    const xs = lines.map((t) => span(t, from, to)).filter(Number.isFinite);
    const s = stats(xs);
    out.push(`    ${name.padEnd(60)} p50 ${f(s.p50).padStart(6)}  p99 ${f(s.p99).padStart(6)}  max ${f(s.max).padStart(6)}  (${xs.length})`);
  }
  const sorted = [...lines].sort((a, b) => total(b) - total(a));
  const slow = sorted.slice(0, Math.max(1, Math.ceil(lines.length / 100)));
  const cut = total(slow.at(-1)!);
  const where = new Map<string, number>();
  const share = new Map<string, number>();
  for (const t of slow) {
    let worst = "";
    let worstMs = -Infinity;
    for (const [name, from, to] of STAGES) {
      const ms = span(t, from, to);
      if (!Number.isFinite(ms)) continue;
      share.set(name, (share.get(name) ?? 0) + ms);
      if (ms > worstMs) [worst, worstMs] = [name, ms];
    }
    where.set(worst, (where.get(worst) ?? 0) + 1);
  }
  const slowTotal = slow.reduce((a, t) => a + total(t), 0);
  out.push(`    the slowest ${slow.length} (>= ${f(cut)} ms): the stage that took the most, and each stage's share of their time:`);
  for (const [name] of STAGES) {
    out.push(`      ${name.padEnd(60)} worst for ${String(where.get(name) ?? 0).padStart(4)}   ${f((100 * (share.get(name) ?? 0)) / slowTotal, 1)}% of their time`);
  }
  const drainRetried = lines.filter((t) => (t.drainTries ?? 1) > 1);
  out.push(`    the fleet's drainer needed more than one try: ${drainRetried.length} (${drainRetried.filter((t) => slow.includes(t)).length} of the slowest)`);
  const retried = lines.filter((t) => (t.attempts ?? 1) > 1);
  const errors = new Map<string, number>();
  for (const t of retried) for (const e of t.errors) errors.set(e.replace(/\d+/g, "#"), (errors.get(e.replace(/\d+/g, "#")) ?? 0) + 1);
  out.push(
    `    more than one attempt: ${retried.length} (${retried.filter((t) => slow.includes(t)).length} of the slowest); received twice or more: ${lines.filter((t) => t.delivered > 1).length}` +
      (errors.size ? `; failures: ${[...errors].map(([e, n]) => `${n}x ${e}`).join(", ")}` : ""),
  );
  // When and where: seconds into the injection (by when it was asked), and the number.
  const bySecond = new Map<number, number>();
  for (const t of slow) {
    const s = Math.floor((t.asked - start) / 1000);
    bySecond.set(s, (bySecond.get(s) ?? 0) + 1);
  }
  out.push(`    the slowest, by second of the injection they were asked in: ${[...bySecond].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}s:${n}`).join(" ")}`);
  const byNumber = new Map<number, number>();
  for (const t of slow) byNumber.set(t.number, (byNumber.get(t.number) ?? 0) + 1);
  out.push(`    the slowest, by number: ${[...byNumber].sort((a, b) => a[0] - b[0]).map(([n, c]) => `#${n}:${c}`).join(" ")}`);
  // Latency over the run: p50/p99 of the messages asked in each 5-second window.
  const windows = new Map<number, number[]>();
  for (const t of lines) {
    const w = Math.floor((t.asked - start) / 5000) * 5;
    let xs = windows.get(w);
    if (!xs) windows.set(w, (xs = []));
    xs.push(total(t));
  }
  out.push(
    `    latency by 5 s window of the injection (p50/p99 ms): ${[...windows]
      .sort((a, b) => a[0] - b[0])
      .map(([w, xs]) => {
        const s = stats(xs);
        return `${w}s ${f(s.p50)}/${f(s.p99)}`;
      })
      .join("  ")}`,
  );
  return out;
}

export function writeTimeline(file: string, lines: Timeline[]): void {
  writeFileSync(file, lines.map((t) => JSON.stringify(t)).join("\n") + "\n");
}

/**
 * What the inbound scenarios share: customers writing on a steady schedule,
 * and the count at the signed webhook receiver, by WhatsApp id: lost (WhatsApp
 * took it from the customer, no event ever came), duplicated (two distinct
 * events, i.e. webhook-ids, for one WhatsApp message) and retried (the same
 * webhook-id delivered again, which a receiver drops).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { openLoop } from "../harness/schedule.ts";
import { sleep } from "../harness/waits.ts";
import type { Fleet } from "../harness/fleet.ts";
import type { RunResult } from "./result.ts";
import type { RunContext } from "./scenarios/scenario.ts";
import type { ChaosStack } from "./stack.ts";
import { Customers, type Written } from "./traffic.ts";
import { untilComplete } from "./waits.ts";

const waIdOf = (event: any): string | undefined => event?.payload?.wa_message_id;

/**
 * An inbound run's stack: the receiver subscribed to `message.received` and
 * the numbers connected on one fleet (not yet warmed up: see `warmUp`).
 */
export async function startInbound(ctx: RunContext, edgeVars?: Record<string, string>): Promise<{ stack: ChaosStack; fleet: Fleet }> {
  const stack = await ctx.startStack({ numbers: ctx.options.numbers, edgeVars });
  await stack.subscribe();
  const fleet = stack.fleet();
  await stack.connectNumbers(fleet);
  return { stack, fleet };
}

/** What went wrong besides losses: messages the peer never took, and a number with two live sockets. */
export function runProblems(notWritten: string[], maxSockets = 1): string[] {
  return [
    ...(notWritten.length ? [`${notWritten.length} message(s) WhatsApp (the peer) never took from the customer: ${notWritten[0]}`] : []),
    ...(maxSockets > 1 ? [`a number had ${maxSockets} live WhatsApp sockets at once`] : []),
  ];
}

/**
 * Customers write `messages` texts at `rate` per second (open loop), from
 * `customers` JIDs spread over the numbers. `at(i)` runs as message i is due,
 * before it is written: where a scenario strikes. What WhatsApp took goes
 * into `written` as it happens.
 */
export async function writeSteadily(
  stack: ChaosStack,
  opts: { tag: string; messages: number; rate: number; customers?: number; at?: (i: number) => void },
  written: Written[] = [],
): Promise<{ written: Written[]; notWritten: string[]; customers: Customers }> {
  const customers = new Customers(stack.e2e.peers.peers, opts.customers ?? 100);
  const notWritten: string[] = [];
  stack.log(`customers write ${opts.messages} messages at ${Number(opts.rate.toFixed(2))}/s`);
  await openLoop(opts.messages, opts.rate, async (i) => {
    opts.at?.(i);
    try {
      written.push(await customers.write(i, `${opts.tag} #${i}`));
    } catch (err) {
      notWritten.push((err as Error).message);
    }
  });
  return { written, notWritten, customers };
}

/**
 * Customers write steadily (see `writeSteadily`) through an outage: as
 * message `at` is due, `begin()` takes something down; `seconds` later
 * `end()` brings it back. Resolves once it is back, with when it went down
 * (`downAt`) and came back (`backAt`).
 */
export async function writeThroughOutage(
  stack: ChaosStack,
  opts: { tag: string; messages: number; rate: number; at: number; seconds: number; begin: () => void; end: () => void | Promise<void> },
): Promise<{ written: Written[]; notWritten: string[]; customers: Customers; downAt: number; backAt: number }> {
  let downAt = 0;
  let backAt = 0;
  let back: Promise<void> = Promise.resolve();
  const wrote = await writeSteadily(stack, {
    tag: opts.tag,
    messages: opts.messages,
    rate: opts.rate,
    at: (i) => {
      if (i !== opts.at) return;
      downAt = Date.now();
      opts.begin();
      back = sleep(opts.seconds * 1000).then(async () => {
        await opts.end();
        backAt = Date.now();
      });
    },
  });
  await back;
  return { ...wrote, downAt, backAt };
}

/** One message per number, delivered before the run counts: wakes the numbers' objects and the event hub. */
export async function warmUp(stack: ChaosStack): Promise<void> {
  const customers = new Customers(stack.e2e.peers.peers, stack.instances.length, 5511933000000);
  const written = await Promise.all(stack.instances.map((_, k) => customers.write(k, `warm-up ${k}`)));
  const ids = written.map((w) => w.waId);
  const done = await untilComplete(() => stack.receiver.tally(ids, waIdOf).first.size, ids.length, {
    timeoutMs: 60_000,
    stallMs: 60_000,
    log: stack.log,
    what: "warm-up",
  });
  if (!done.complete) throw new Error("the warm-up messages never reached the webhook receiver: the stack is not working");
}

/** Waits until the receiver has an event for every written message, or nothing more comes for `stallMs`. */
export async function awaitWebhooks(stack: ChaosStack, written: Written[], opts: { timeoutMs: number; stallMs: number }) {
  const ids = written.map((w) => w.waId);
  return await untilComplete(() => stack.receiver.tally(ids, waIdOf).first.size, ids.length, {
    ...opts,
    log: stack.log,
    what: "webhooks",
  });
}

/**
 * The WhatsApp ids a fleet's own log says the edge has stored (its relay's
 * "message delivered" line), read as the log grows. Only a hint for choosing
 * when to strike: if the line changes, the strike waits on the receiver alone.
 */
export class StoredByEdge {
  readonly ids = new Set<string>();
  readonly logPath: string;
  #offset = 0;
  #rest = "";
  constructor(logPath: string) {
    this.logPath = logPath;
  }

  poll(): Set<string> {
    let fd: number;
    try {
      fd = openSync(this.logPath, "r");
    } catch {
      return this.ids;
    }
    try {
      const buf = Buffer.alloc(1 << 16);
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.#offset)) > 0; ) {
        this.#offset += n;
        const lines = (this.#rest + buf.toString("utf8", 0, n)).split("\n");
        this.#rest = lines.pop()!;
        for (const line of lines) {
          if (!line.includes('"message delivered"')) continue;
          const id = /"wa_message_id":"([^"]+)"/.exec(line)?.[1];
          if (id) this.ids.add(id);
        }
      }
    } finally {
      closeSync(fd);
    }
    return this.ids;
  }
}

/**
 * Messages a fleet has acknowledged to WhatsApp (which will not send them
 * again) that neither its log says the edge stored nor the receiver has had:
 * what killing it now puts at risk.
 */
export function unconfirmed(stack: ChaosStack, written: Written[], stored: StoredByEdge): number {
  const got = new Set(stack.receiver.deliveries.map((d) => waIdOf(d.event)));
  const saved = stored.poll();
  return written.filter((w) => stack.e2e.peers.peers[w.number]!.acknowledged(w.waId) && !got.has(w.waId) && !saved.has(w.waId)).length;
}

/** Lost, duplicated, retried at the receiver, for the written messages. */
export function countWebhooks(stack: ChaosStack, written: Written[]) {
  const byId = new Map(written.map((w) => [w.waId, w]));
  const tally = stack.receiver.tally(byId.keys(), waIdOf);
  const describe = (id: string) => {
    const w = byId.get(id)!;
    return `"${w.text}" (WhatsApp id ${id}) to number ${w.number}, written at ${new Date(w.at).toISOString()}`;
  };
  const counts: Pick<RunResult, "messages" | "lost" | "duplicated" | "lostItems" | "duplicatedItems"> = {
    messages: written.length,
    lost: tally.lost.length,
    duplicated: tally.duplicated.length,
    lostItems: tally.lost.map(describe),
    duplicatedItems: tally.duplicated.map(describe),
  };
  // The receiver's own figures, first in every inbound scenario's list.
  const figures: RunResult["figures"] = [
    ["retried deliveries (same webhook-id)", tally.retried],
    ["bad signatures", tally.invalid],
  ];
  return { ...counts, tally, figures };
}

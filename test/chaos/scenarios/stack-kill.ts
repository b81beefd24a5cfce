/**
 * stack-kill: a client sends texts through the API at a steady rate; once
 * half of them are accepted (202), the whole stack (the edge's wrangler and
 * workerd, and the fleet) is SIGKILLed, then started again on the same edge
 * state and fleet data directory. The client retries what got no answer with
 * the same Idempotency-Key. Counted at the WhatsApp peers (lost, sent twice
 * under two WhatsApp ids, the same id arriving twice) and in the API (each
 * accepted message's final status). The kill comes at a moment when
 * accepted messages are on their way: the project sends flat out (pacing
 * off, caps raised, no warming, as in bench/send.ts), so a healthy stack
 * keeps almost nothing queued; the fleet is frozen (SIGSTOP) for the strike,
 * well inside its lease, until accepted messages pile up in the outbox.
 */
import { duplicates, type Received } from "../../harness/figures.ts";
import { openLoop, pool } from "../../harness/schedule.ts";
import { sleep } from "../../harness/waits.ts";
import { summarize } from "../../peer/decode.ts";
import { secs, type RunResult } from "../result.ts";
import { type Accepted, sendUntilAccepted } from "../traffic.ts";
import { untilComplete, worstMoment } from "../waits.ts";
import type { Scenario } from "./scenario.ts";

const CUSTOMERS = 100;
const PHONE_BASE = 5511988880000;
/** The kill waits for this many accepted messages on their way, or this long (the fleet frozen meanwhile). */
const STRIKE_DEPTH = 10;
const STRIKE_WINDOW_MS = 5_000;
/** Statuses a message can still leave. */
const PENDING = new Set(["queued", "sending"]);

type Arrival = Received & { number: number };

export const stackKill: Scenario = {
  name: "stack-kill",
  summary: "SIGKILL of the edge and the fleet halfway through the accepted sends; both restarted on their state",
  defaults: { messages: 300, numbers: 2, rate: 10 },
  async run(ctx) {
    const { messages, rate } = ctx.options;
    const stack = await ctx.startStack({ numbers: ctx.options.numbers });
    const api = stack.api;
    await api.call("PATCH", "/settings", { pacing: { enabled: false }, caps: { hourly: 100_000, daily: 1_000_000 }, warming_days: 0 });
    const phones = Array.from({ length: CUSTOMERS }, (_, k) => String(PHONE_BASE + 1 + k));
    for (const phone of phones) stack.e2e.peers.directory.register(phone);
    let fleet = stack.fleet();
    const instances = await stack.connectNumbers(fleet);

    const peers = stack.e2e.peers.peers;
    const arrivals = (bodies: Set<string>): Arrival[] =>
      peers.flatMap((peer, number) =>
        peer.accepted().flatMap((m) => {
          const s = summarize(m.message);
          return s.type === "text" && bodies.has(s.text) ? [{ waId: m.id, text: s.text, number }] : [];
        }),
      );

    // Warm-up: one send through each number, arrived before the run counts.
    const warm = new Set(instances.map((_, k) => `warm-up ${k}`));
    await pool(instances, 2, async (inst, k) => {
      await api.call("POST", "/messages/text", { to: `+${phones[k]}`, body: `warm-up ${k}`, instance_id: inst.id }, 202);
    });
    const warmed = await untilComplete(() => new Set(arrivals(warm).map((a) => a.text)).size, warm.size, {
      timeoutMs: 60_000,
      stallMs: 60_000,
      log: ctx.log,
      what: "warm-up",
    });
    if (!warmed.complete) throw new Error("the warm-up sends never reached the peers: the stack is not working");

    const bodies = Array.from({ length: messages }, (_, i) => `stack-kill ${ctx.run} #${i}`);
    const accepted: Accepted[] = [];
    const refused: string[] = [];
    const gaveUp: string[] = [];
    const retried = new Map<string, number>();
    const half = Math.floor(messages / 2);
    let killedAt = 0;
    let upAt = 0;
    let restart: Promise<void> = Promise.resolve();
    // The kill waits (at most STRIKE_WINDOW_MS) for accepted messages not yet at WhatsApp: in the outbox, or on their way.
    let exposed = 0;
    const killAndRestart = async () => {
      process.kill(fleet.pid, "SIGSTOP");
      exposed = await worstMoment(() => accepted.length - arrivals(new Set(accepted.map((a) => a.body))).length, {
        atLeast: STRIKE_DEPTH,
        withinMs: STRIKE_WINDOW_MS,
      });
      killedAt = Date.now();
      ctx.log(`${accepted.length} accepted, ${exposed} of them not yet at WhatsApp: SIGKILL the edge (pid group ${stack.e2e.edge.pid}) and ${fleet.fleetId} (pid ${fleet.pid})`);
      await Promise.all([stack.e2e.edge.kill(), fleet.kill()]);
      await sleep(2_000);
      await stack.e2e.restartEdge();
      fleet = stack.fleet();
      upAt = Date.now();
      ctx.log(`edge back after ${secs(upAt - killedAt)} s`);
    };
    ctx.log(`the client sends ${messages} texts at ${rate}/s; the stack dies at ${half} accepted`);
    await openLoop(messages, rate, async (i) => {
      try {
        const outcome = await sendUntilAccepted(api, { i, to: `+${phones[i % CUSTOMERS]}`, body: bodies[i]!, key: `chaos-${i}` }, retried, 300_000);
        if ("refused" in outcome) return void refused.push(`#${i}: ${outcome.refused}`);
        accepted.push(outcome.accepted);
        if (accepted.length === half) restart = killAndRestart();
      } catch (err) {
        gaveUp.push((err as Error).message);
      }
    });
    await restart;
    const acceptedBodies = new Set(accepted.map((a) => a.body));
    const arrived = () => new Set(arrivals(acceptedBodies).map((a) => a.text)).size;
    const drain = await untilComplete(arrived, acceptedBodies.size, { timeoutMs: 300_000, stallMs: 90_000, log: ctx.log, what: "arrivals" });
    await sleep(2_000); // late copies of a resend land right behind
    const got = arrivals(acceptedBodies);
    const firstByBody = new Map<string, Arrival>();
    for (const a of got) if (!firstByBody.has(a.text!)) firstByBody.set(a.text!, a);
    const dup = duplicates(got);
    const lost = accepted.filter((a) => !firstByBody.has(a.body));

    // The API's word on each accepted message, once statuses had time to settle.
    const status = new Map<string, { status: string; wa_message_id: string | null }>();
    const settle = Date.now() + 60_000;
    for (let pending = accepted; pending.length && Date.now() < settle; ) {
      await pool(pending, 8, async (a) => {
        const r = await api.raw<{ status: string; wa_message_id: string | null }>("GET", `/messages/${a.id}`);
        if (r.status === 200) status.set(a.id, r.body);
      });
      pending = accepted.filter((a) => PENDING.has(status.get(a.id)?.status ?? "queued") && firstByBody.has(a.body));
      if (pending.length) await sleep(2_000);
    }
    const byStatus = new Map<string, number>();
    for (const a of accepted) {
      const s = status.get(a.id)?.status ?? "unknown";
      byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
    }
    const arrivedButPending = accepted.filter((a) => firstByBody.has(a.body) && PENDING.has(status.get(a.id)?.status ?? ""));
    const sentButLost = lost.filter((a) => !PENDING.has(status.get(a.id)?.status ?? "queued"));
    const otherId = accepted.filter((a) => {
      const waId = status.get(a.id)?.wa_message_id;
      return firstByBody.has(a.body) && waId && waId !== firstByBody.get(a.body)!.waId;
    });
    const describe = (a: Accepted) => `"${a.body}" (message ${a.id}, number ${instances.findIndex((i) => i.id === a.instanceId)}): API status ${status.get(a.id)?.status ?? "?"}`;

    const result: Omit<RunResult, "scenario" | "run" | "seconds"> = {
      messages: accepted.length,
      lost: lost.length,
      duplicated: dup.bodiesTwice,
      lostItems: lost.map(describe),
      duplicatedItems: dup.textsTwice.map((text) => `"${text}" arrived under ${new Set(got.filter((a) => a.text === text).map((a) => a.waId)).size} WhatsApp ids`),
      figures: [
        ["same WhatsApp id arrived twice (a resend; a phone shows it once)", dup.sameId],
        ["API status of the accepted", [...byStatus].map(([s, n]) => `${n} ${s}`).join(", ")],
        ["killed", `at ${half}+ accepted, ${exposed} of them not yet at WhatsApp (the fleet frozen for the strike); the edge answered again ${secs(upAt - killedAt)} s after the kill`],
        ["client retries (same Idempotency-Key)", [...retried].map(([why, n]) => `${n} after "${why}"`).join(", ") || "none"],
        ["last arrival", drain.complete ? `${secs(drain.lastProgressAt - killedAt)} s after the kill` : "never (see lost)"],
      ],
      problems: [
        ...(refused.length ? [`${refused.length} send(s) refused: ${refused[0]}`] : []),
        ...(gaveUp.length ? [`${gaveUp.length} send(s) never accepted: ${gaveUp[0]}`] : []),
        ...(arrivedButPending.length ? [`${arrivedButPending.length} message(s) reached WhatsApp but the API still says queued/sending, e.g. ${describe(arrivedButPending[0]!)}`] : []),
        ...(sentButLost.length ? [`${sentButLost.length} message(s) the API reports past sending never reached WhatsApp, e.g. ${describe(sentButLost[0]!)}`] : []),
        ...(otherId.length ? [`${otherId.length} message(s) arrived under another WhatsApp id than the API reports`] : []),
      ],
    };
    return result;
  },
};

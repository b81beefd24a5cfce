/**
 * fleet-kill: customers write to the numbers at a steady rate while the
 * fleet process running them is SIGKILLed halfway through, at a moment it
 * holds messages it has acknowledged to WhatsApp (the test peer tells which)
 * that the edge has not stored yet (by the fleet's log and the receiver).
 * A healthy fleet hands a message to the edge within milliseconds, so the
 * edge is frozen (SIGSTOP) for the few seconds before the kill, well inside
 * the lease: what the victim took then exists only in its spool. A second fleet is
 * running all along (the numbers move to it when their leases lapse), and a
 * fleet is started again on the same data directory a few seconds after the
 * kill, as a supervisor would restart it. Counted at the webhook receiver.
 */
import type { Fleet } from "../../harness/fleet.ts";
import { sleep } from "../../harness/waits.ts";
import { awaitWebhooks, countWebhooks, runProblems, startInbound, StoredByEdge, unconfirmed, warmUp, writeSteadily } from "../inbound.ts";
import { secs, type RunResult } from "../result.ts";
import type { Written } from "../traffic.ts";
import { worstMoment } from "../waits.ts";
import type { Scenario } from "./scenario.ts";

/** A supervisor's restart delay. */
const RESTART_AFTER_MS = 3_000;
/** The kill waits for this many messages at risk, or this long (the edge frozen meanwhile: under the lease's 12 s fence). */
const STRIKE_DEPTH = 10;
const STRIKE_WINDOW_MS = 8_000;

export const fleetKill: Scenario = {
  name: "fleet-kill",
  summary: "SIGKILL of the fleet running the numbers mid-burst; a second fleet runs, the killed one restarts on its data dir",
  defaults: { messages: 300, numbers: 2, rate: 15 },
  async run(ctx) {
    const { messages, rate } = ctx.options;
    const { stack, fleet: first } = await startInbound(ctx);
    const second = stack.fleet();
    await stack.e2e.waitRegistered(second);
    await stack.waitAllConnected(60_000);
    await warmUp(stack);

    // Halfway, the fleet running most of the numbers at that moment is killed, once it holds messages it
    // has acknowledged to WhatsApp that the edge has not stored (or after STRIKE_WINDOW_MS): a crash
    // must lose none of them. (Numbers may have moved to the second fleet by then: the directory spreads them.)
    const written: Written[] = [];
    const half = Math.floor(messages / 2);
    let killedAt = 0;
    let killed = "";
    let struck: Promise<unknown> = Promise.resolve();
    const strike = async () => {
      const holders = await stack.holders();
      const runs = (f: Fleet) => [...holders.values()].filter((h) => h === f.fleetId).length;
      const victim = runs(first) >= runs(second) ? first : second;
      const itsNumbers = new Set(stack.instances.flatMap((inst, k) => (holders.get(inst.id) === victim.fleetId ? [k] : [])));
      const stored = new StoredByEdge(victim.logPath);
      const edge = stack.e2e.edge;
      edge.pause();
      let exposed: number;
      try {
        exposed = await worstMoment(() => unconfirmed(stack, written.filter((w) => itsNumbers.has(w.number)), stored), {
          atLeast: STRIKE_DEPTH,
          withinMs: STRIKE_WINDOW_MS,
        });
        killedAt = Date.now();
        killed = `${victim.fleetId}, running ${runs(victim)} of ${holders.size} numbers, after ${written.length} messages, holding ${exposed} it had acknowledged to WhatsApp and the edge had not stored (edge frozen for the strike)`;
        ctx.log(`SIGKILL ${killed}`);
        await victim.kill();
      } finally {
        edge.resume();
      }
      await sleep(RESTART_AFTER_MS);
      stack.fleet();
    };
    const { notWritten, customers } = await writeSteadily(
      stack,
      { tag: `fleet-kill ${ctx.run}`, messages, rate, at: (i) => void (i === half && (struck = strike())) },
      written,
    );
    await struck;
    await stack.waitAllConnected(120_000);
    const backMs = stack.socketsBackAfter(killedAt);
    const drain = await awaitWebhooks(stack, written, { timeoutMs: 240_000, stallMs: 90_000 });
    const counts = countWebhooks(stack, written);
    const maxSockets = stack.maxSocketsPerNumber();

    const result: Omit<RunResult, "scenario" | "run" | "seconds"> = {
      ...counts,
      figures: [
        ...counts.figures,
        ["killed", killed],
        ["the killed fleet's numbers back on WhatsApp", backMs === null ? "not all" : `${secs(backMs)} s after the kill`],
        ["last message delivered", drain.complete ? `${secs(drain.lastProgressAt - killedAt)} s after the kill` : "never (see lost)"],
        ["peer refusals (retried by the customer)", customers.refusals],
        ["most live sockets for one number", maxSockets],
      ],
      problems: runProblems(notWritten, maxSockets),
    };
    return result;
  },
};

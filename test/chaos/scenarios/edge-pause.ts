/**
 * edge-pause: customers write to the numbers while the edge is frozen
 * (SIGSTOP of wrangler and its workerd) for a minute, then thawed (SIGCONT).
 * The fleet keeps receiving; its link to the edge goes silent, its leases
 * lapse, and the edge re-assigns the numbers when it wakes. Counted at the
 * webhook receiver.
 */
import { awaitWebhooks, countWebhooks, runProblems, startInbound, warmUp, writeThroughOutage } from "../inbound.ts";
import { secs, type RunResult } from "../result.ts";
import type { Scenario } from "./scenario.ts";

export const edgePause: Scenario = {
  name: "edge-pause",
  summary: "the edge frozen (SIGSTOP) for --pause-s seconds while customers write; then SIGCONT",
  defaults: { messages: 200, numbers: 2, rate: 5 },
  async run(ctx) {
    const { messages, rate, pauseS } = ctx.options;
    const { stack } = await startInbound(ctx);
    await warmUp(stack);
    const connectionsBefore = stack.connectionCounts();

    // Frozen a quarter of the way in; the rest of the messages come while it is frozen or just after.
    const freezeAt = Math.floor(messages / 4);
    const { written, notWritten, customers, downAt: frozenAt, backAt: thawedAt } = await writeThroughOutage(stack, {
      tag: `edge-pause ${ctx.run}`,
      messages,
      rate,
      at: freezeAt,
      seconds: pauseS,
      begin: () => {
        ctx.log(`SIGSTOP the edge (pid group ${stack.e2e.edge.pid}) for ${pauseS} s`);
        stack.e2e.edge.pause();
      },
      end: () => {
        stack.e2e.edge.resume();
        ctx.log("SIGCONT the edge");
      },
    });
    const writtenDuringFreeze = written.filter((w) => w.at >= frozenAt && w.at < thawedAt).length;
    await stack.waitAllConnected(180_000);
    const drain = await awaitWebhooks(stack, written, { timeoutMs: 300_000, stallMs: 90_000 });
    const counts = countWebhooks(stack, written);
    const reconnects = stack.connectionCounts().reduce((a, n, k) => a + n - connectionsBefore[k]!, 0);
    const maxSockets = stack.maxSocketsPerNumber();

    const result: Omit<RunResult, "scenario" | "run" | "seconds"> = {
      ...counts,
      figures: [
        ...counts.figures,
        ["frozen", `${pauseS} s, after ${freezeAt} messages; ${writtenDuringFreeze} written while frozen`],
        ["last message delivered", drain.complete ? `${secs(drain.lastProgressAt - thawedAt)} s after the thaw` : "never (see lost)"],
        ["WhatsApp reconnects of the numbers", reconnects],
        ["peer refusals (retried by the customer)", customers.refusals],
        ["most live sockets for one number", maxSockets],
      ],
      problems: runProblems(notWritten, maxSockets),
    };
    return result;
  },
};

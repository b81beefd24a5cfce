/**
 * receiver-down: the customer's webhook endpoint is down (port closed) for
 * --down-s seconds (600) while customers write, spread so that most messages
 * come while it is down; then it comes back and the run waits for the
 * retries to catch up. The edge runs with the default first retry (10 s) and
 * POMBO_WEBHOOK_RETRY_MAX_S at a fifth of the outage (120 s for 10 minutes):
 * with the 12 h default the next retry after a 10-minute outage can be
 * ~17 minutes away. 16 retries still span at least 8 x the cap, past the outage.
 */
import { awaitWebhooks, countWebhooks, runProblems, startInbound, warmUp, writeThroughOutage } from "../inbound.ts";
import { secs, type RunResult } from "../result.ts";
import type { Scenario } from "./scenario.ts";

export const receiverDown: Scenario = {
  name: "receiver-down",
  summary: "the webhook receiver down for --down-s seconds (600) while customers write; waits for the retries to catch up",
  // The rate follows from the outage: the messages are spread over 1.2 x its length.
  defaults: { messages: 200, numbers: 2, rate: 0 },
  async run(ctx) {
    const { messages, downS } = ctx.options;
    const retryMaxS = Math.min(43_200, Math.max(30, Math.round(downS / 5)));
    const { stack } = await startInbound(ctx, { POMBO_WEBHOOK_RETRY_BASE_S: "10", POMBO_WEBHOOK_RETRY_MAX_S: String(retryMaxS) });
    await warmUp(stack);

    const rate = ctx.options.rate || messages / (downS * 1.2);
    const downAt = Math.floor(messages / 12);
    const { written, notWritten, customers, downAt: wentDownAt, backAt: cameBackAt } = await writeThroughOutage(stack, {
      tag: `receiver-down ${ctx.run}`,
      messages,
      rate,
      at: downAt,
      seconds: downS,
      begin: () => {
        ctx.log(`webhook receiver down for ${downS} s (retry cap ${retryMaxS} s)`);
        void stack.receiver.down();
      },
      end: async () => {
        await stack.receiver.up();
        ctx.log("webhook receiver back");
      },
    });
    const drain = await awaitWebhooks(stack, written, { timeoutMs: retryMaxS * 3_000 + 300_000, stallMs: retryMaxS * 2_000 + 60_000 });
    const counts = countWebhooks(stack, written);
    const deliveredAt = (waId: string) => counts.tally.first.get(waId)?.receivedAt ?? Infinity;
    // What the outage held back: written before the receiver came back, not delivered before it went down.
    const missedWhileDown = written.filter((w) => w.at < cameBackAt && deliveredAt(w.waId) >= wentDownAt);
    const catchUpMs = Math.max(cameBackAt, ...missedWhileDown.map((w) => deliveredAt(w.waId))) - cameBackAt;

    const result: Omit<RunResult, "scenario" | "run" | "seconds"> = {
      ...counts,
      figures: [
        ...counts.figures,
        ["receiver down", `${downS} s, after ${downAt} messages; ${missedWhileDown.length} messages to catch up when it came back`],
        ["catch-up", drain.complete && Number.isFinite(catchUpMs) ? `every one delivered ${secs(catchUpMs)} s after it came back` : "incomplete (see lost)"],
        ["retry settings", `POMBO_WEBHOOK_RETRY_BASE_S=10, POMBO_WEBHOOK_RETRY_MAX_S=${retryMaxS}`],
        ["rate", `${rate.toFixed(2)} messages/s`],
        ["peer refusals (retried by the customer)", customers.refusals],
      ],
      problems: runProblems(notWritten),
    };
    return result;
  },
};

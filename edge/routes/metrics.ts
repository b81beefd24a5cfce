/** /metrics: the project's counters per hour or day, per number (services/metrics-report.ts). */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorsOf, instant, json, operations } from "../schemas.ts";
import { BUCKETS, MAX_RANGE_DAYS, metricsReport } from "../services/metrics-report.ts";

const route = operations(["Metrics"]);

const MetricsQuery = z.object({
  from: instant("Start of the range, rounded down to the hour (`bucket=day`: the UTC day). Default: 24 hours before `to`"),
  to: instant("End of the range (excluded), rounded up to the hour (`bucket=day`: the UTC day). Default: now"),
  bucket: z.enum(BUCKETS).default("hour").openapi({ description: "The series' step: UTC hours or UTC days." }),
  instance_id: z.string().min(1).max(100).optional().openapi({ description: "One number's counters. Default: the whole project, and each number's totals." }),
});

const count = (description: string) => z.number().int().openapi({ description });

const Figures = z
  .object({
    sent: count("Sends WhatsApp took"),
    delivered: count("Sends delivered to the recipient's phone"),
    read: count("Sends the recipient read"),
    played: count("Voice notes and videos the recipient played"),
    failed: count("Sends that failed (the sum of `failed_by_reason`)"),
    failed_by_reason: z.record(z.string(), z.number().int()).openapi({ example: { expired: 2, server_error_463: 1 }, description: "Failed sends by the message's `reason`" }),
    received: count("Messages received from customers (not those written on the number's own phone)"),
    opt_outs: count("People who opted out (a keyword, or the API), counted on the number that talks to them"),
    webhooks_delivered: count("Webhook deliveries answered 2xx"),
    webhooks_failed: count("Webhook deliveries given up on (retries used up, or the endpoint disabled)"),
    webhook_attempts_failed: count("Webhook attempts that failed and were retried"),
    latency_ms: z
      .object({ p50: z.number().int().nullable(), p95: z.number().int().nullable() })
      .openapi({ description: "Accept-to-sent time of the sends counted as `sent`, from a histogram with 1-2-5 steps (100 ms to 6 h): each within its bucket. Null with no sends." }),
  })
  .openapi("MetricsFigures");

const Metrics = z
  .object({
    from: z.string().openapi({ example: "2026-12-04T13:00:00Z" }),
    to: z.string().openapi({ example: "2026-12-05T13:00:00Z" }),
    bucket: z.enum(BUCKETS),
    instance_id: z.string().nullable(),
    series: z.array(Figures.extend({ start: z.string().openapi({ example: "2026-12-04T13:00:00Z" }) })).openapi({ description: "Every bucket of the range, oldest first, empty ones included." }),
    totals: Figures,
    numbers: z
      .array(Figures.omit({ latency_ms: true, failed_by_reason: true }).extend({ instance_id: z.string(), name: z.string() }))
      .optional()
      .openapi({ description: "Without `instance_id`: each of the project's numbers' totals for the range, in creation order (latency and failure reasons: ask with `instance_id`). A deleted number's counts stay in the project's." }),
  })
  .openapi("Metrics");

export const metricsRoutes = new OpenAPIHono<AppEnv>().openapi(
  route.get("/", "Counters per hour or day, for the project or one number", {
    description: `Sent, delivered, read, played, failed (by reason), received, opt-outs, webhook outcomes and accept-to-sent latency (p50, p95), counted as they happen, per hour. A range is at most ${MAX_RANGE_DAYS} days (400 \`range_too_long\`); \`from\` after \`to\` is 400 \`invalid_range\`. Another project's \`instance_id\` is 404.`,
    request: { query: MetricsQuery },
    responses: { 200: json(Metrics, "The series, the range's totals and, for the project, each number's totals"), ...errorsOf(400, 404) },
  }),
  async (c) => c.json(await metricsReport(c.env, c.var.projectId, c.req.valid("query")), 200),
);

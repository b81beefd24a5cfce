/** /admin/metrics: the operator's Prometheus scrape target (the admin audience: POMBO_ADMIN_TOKEN). */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { operations } from "../schemas.ts";
import { exposition } from "../services/prometheus.ts";

const route = operations(["Admin"]);

export const adminMetricsRoutes = new OpenAPIHono<AppEnv>().openapi(
  route.get("/metrics", "Prometheus metrics for the whole gateway", {
    description: [
      "Prometheus text exposition (format 0.0.4) of every project: `pombo_instances{project_id,state}`,",
      "`pombo_instance_health` and `pombo_instance_outbound_queued` per number (`instance_id`, `project_id`),",
      "`pombo_webhook_backlog{project_id,status}` (pending, retrying), `pombo_events_total{project_id,type}`",
      "and `pombo_fleet_processes`. Scrape it with `authorization: { credentials: <POMBO_ADMIN_TOKEN> }`.",
    ].join(" "),
    responses: {
      200: {
        description: "The metrics",
        content: {
          "text/plain; version=0.0.4": {
            schema: z.string().openapi({ example: '# TYPE pombo_instance_health gauge\npombo_instance_health{instance_id="...",project_id="..."} 100\n' }),
          },
        },
      },
    },
  }),
  async (c) => {
    const { contentType, text } = await exposition(c.env);
    return c.text(text, 200, { "Content-Type": contentType });
  },
);

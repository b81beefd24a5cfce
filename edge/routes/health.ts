/** /health: public, for load balancers, container checks and `npm start`: whether this edge can serve. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { json } from "../schemas.ts";
import { REQUIRED_SECRETS, edgeStatus } from "../services/edge-status.ts";

const Health = z
  .object({
    ok: z.boolean().openapi({ description: "Configured and D1 answers: the status is 200." }),
    configured: z.boolean(),
    missing: z.array(z.enum(REQUIRED_SECRETS)).openapi({ description: "Required secrets the edge does not have (names only)." }),
    d1: z.object({ ok: z.boolean(), latency_ms: z.number().int().nullable().openapi({ description: "A small query's round trip." }) }),
    fleets: z.number().int().nullable().openapi({ description: "Fleet processes linked now (null: the directory did not answer)." }),
    connected_numbers: z.number().int().nullable().openapi({ description: "Numbers connected to WhatsApp now, over all projects." }),
  })
  .openapi("Health");

export const healthRoutes = new OpenAPIHono<AppEnv>().openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["Health"],
    summary: "Whether the edge is configured and reaches D1; fleet processes and connected numbers",
    description: "Public: no credentials, and nothing of any project in the answer.",
    security: [],
    responses: {
      200: json(Health, "Configured, and D1 answers"),
      503: json(Health, "A required secret is missing (`missing` names it) or D1 does not answer"),
    },
  }),
  async (c) => {
    const status = await edgeStatus(c.env);
    return c.json(status, status.ok ? 200 : 503);
  },
);

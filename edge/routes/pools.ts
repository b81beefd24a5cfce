/** /pools: groups of numbers that rotate together. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { Strategy } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { IdParam, creating, errorsOf, json, jsonBody, listing, operations, reading } from "../schemas.ts";
import * as pools from "../services/pools.ts";

const route = operations(["Pools"]);

const PoolInput = z.object({
  name: z.string().trim().min(1).max(100),
  strategy: Strategy.default("round_robin"),
  instance_ids: z.array(z.string().min(1)).max(1000).default([]),
});
const Pool = z
  .object({
    id: z.string(),
    name: z.string(),
    strategy: Strategy,
    instance_ids: z.array(z.string()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Pool");

export const poolRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/", "Create a pool", creating(PoolInput, Pool)),
    async (c) => c.json(await pools.createPool(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    route.get("/", "List pools", listing(Pool, "A page of pools")),
    async (c) => c.json(await pools.poolsPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.get("/{id}", "Get a pool", reading(Pool, "The pool")),
    async (c) => c.json(await pools.getPool(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.patch("/{id}", "Change a pool (instance_ids replaces the members)", {
      request: { params: IdParam, body: jsonBody(PoolInput.partial().strict()) },
      responses: { 200: json(Pool, "The pool"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await pools.changePool(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    route.delete("/{id}", "Delete a pool (its numbers stay)", {
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorsOf(404) },
    }),
    async (c) => {
      await pools.removePool(c.env, c.var.projectId, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

/** /pools: groups of numbers that rotate together. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { IdParam, PageQuery, errors, json, jsonBody, paged } from "../schemas.ts";
import * as pools from "../services/pools.ts";
import { Strategy } from "../services/settings-schema.ts";

const tags = ["Pools"];

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
    createRoute({
      method: "post",
      path: "/pools",
      tags,
      summary: "Create a pool",
      request: { body: jsonBody(PoolInput) },
      responses: { 201: json(Pool, "Created"), 400: errors[400], 401: errors[401] },
    }),
    async (c) => c.json(await pools.createPool(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/pools",
      tags,
      summary: "List pools",
      request: { query: PageQuery },
      responses: { 200: json(paged(Pool), "A page of pools"), 400: errors[400], 401: errors[401] },
    }),
    async (c) => c.json(await pools.poolsPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/pools/{id}",
      tags,
      summary: "Get a pool",
      request: { params: IdParam },
      responses: { 200: json(Pool, "The pool"), 401: errors[401], 404: errors[404] },
    }),
    async (c) => c.json(await pools.getPool(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/pools/{id}",
      tags,
      summary: "Change a pool (instance_ids replaces the members)",
      request: { params: IdParam, body: jsonBody(PoolInput.partial().strict()) },
      responses: { 200: json(Pool, "The pool"), 400: errors[400], 401: errors[401], 404: errors[404] },
    }),
    async (c) => c.json(await pools.changePool(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/pools/{id}",
      tags,
      summary: "Delete a pool (its numbers stay)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, 401: errors[401], 404: errors[404] },
    }),
    async (c) => {
      await pools.removePool(c.env, c.var.projectId, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

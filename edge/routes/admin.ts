/** /admin: the operator's routes (the admin audience: POMBO_ADMIN_TOKEN). */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { db } from "../db/client.ts";
import type { AppEnv } from "../env.ts";
import { IdParam, PageQuery, errorsOf, json, jsonBody, operations, paged } from "../schemas.ts";
import { fleetsOnline, pingFleet } from "../services/instances.ts";
import * as projects from "../services/projects.ts";

const route = operations(["Admin"]);

const Project = z.object({ id: z.string(), name: z.string(), created_at: z.string() }).openapi("Project");
const NewKey = z.object({
  id: z.string(),
  api_key: z.string().openapi({ description: "Shown once. Store it now.", example: "pb_live_..." }),
});
const KeyInfo = z.object({ id: z.string(), prefix: z.string(), created_at: z.string(), revoked_at: z.string().nullable() });
const Fleet = z.object({
  fleet_id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  capacity: z.number().int(),
  instances: z.number().int(),
  connected_at: z.string(),
  last_seen_at: z.string(),
});

export const adminRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/projects", "Create a project and its first API key", {
      request: { body: jsonBody(z.object({ name: z.string().trim().min(1).max(100) })) },
      responses: { 201: json(Project.extend({ api_key: NewKey.shape.api_key }), "Created; the key is shown once"), ...errorsOf(400) },
    }),
    async (c) => c.json(await projects.createProject(db(c.env.DB), c.req.valid("json").name), 201),
  )
  .openapi(
    route.get("/projects", "List projects", { request: { query: PageQuery }, responses: { 200: json(paged(Project), "A page of projects") } }),
    async (c) => c.json(await projects.projectsPage(db(c.env.DB), c.req.valid("query")), 200),
  )
  .openapi(
    route.post("/projects/{id}/keys", "Create another API key for a project", {
      request: { params: IdParam },
      responses: { 201: json(NewKey, "Created; the key is shown once"), ...errorsOf(404) },
    }),
    async (c) => c.json(await projects.createKey(db(c.env.DB), c.req.valid("param").id), 201),
  )
  .openapi(
    route.get("/projects/{id}/keys", "List a project's API keys (prefixes only)", {
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: z.array(KeyInfo) }), "Keys"), ...errorsOf(404) },
    }),
    async (c) => c.json({ data: await projects.keysOf(db(c.env.DB), c.req.valid("param").id) }, 200),
  )
  .openapi(
    route.delete("/projects/{id}/keys/{key_id}", "Revoke an API key", {
      request: { params: IdParam.extend({ key_id: z.string().min(1) }) },
      responses: { 204: { description: "Revoked" }, ...errorsOf(404) },
    }),
    async (c) => {
      const { id, key_id } = c.req.valid("param");
      await projects.revokeKey(db(c.env.DB), id, key_id);
      return c.body(null, 204);
    },
  )
  .openapi(
    route.get("/fleets", "Live fleet processes and how many numbers each runs", {
      responses: { 200: json(z.object({ data: z.array(Fleet) }), "Fleets") },
    }),
    async (c) => c.json({ data: await fleetsOnline(c.env) }, 200),
  )
  .openapi(
    route.post("/instances/{id}/ping", "Time one edge -> fleet -> edge frame round trip for an instance", {
      request: { params: IdParam },
      responses: { 200: json(z.object({ rtt_ms: z.number() }), "Round trip"), ...errorsOf(404, 409) },
    }),
    async (c) => c.json(await pingFleet(c.env, c.req.valid("param").id), 200),
  );

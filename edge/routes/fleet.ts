/**
 * /fleet: where fleet processes connect (the fleet audience:
 * POMBO_FLEET_TOKEN). Not part of the public API (and not in the OpenAPI
 * document): the WebSockets go straight to the Durable Object that owns them.
 */
import { Hono, type HonoRequest } from "hono";
import type { z } from "zod";
import { type MethodName, Methods, type Result, SpooledMessage } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, notFound, validationError } from "../errors.ts";
import type { CommandResult } from "../objects/instance.ts";
import { directoryOf, instanceOf } from "../objects/stubs.ts";
import { statusForQr } from "../services/instances.ts";
import { mediaKeyOf } from "../services/media.ts";

export const fleetRoutes = new Hono<AppEnv>()
  .get("/connect", (c) => directoryOf(c.env).fetch(c.req.raw))
  .get("/instances/:id/connect", (c) => instanceOf(c.env, c.req.param("id")).fetch(c.req.raw))
  // As GET /instances/{id}/qr: an expired pairing starts again. `?restart=false` (fleet:qr's
  // later polls) only looks, so a terminal left open does not keep a number pairing forever.
  .get("/instances/:id/qr", async (c) => {
    const id = c.req.param("id");
    const status = c.req.query("restart") === "false" ? await instanceOf(c.env, id).status() : (await statusForQr(c.env, id)).status;
    if (!status) throw notFound("instance");
    return c.json({ state: status.state, reason: status.reason, qr: status.qr, qr_png: status.qr_png });
  })
  .post("/instances/:id/received", async (c) => {
    const { message, mappings } = await bodyOf(c.req, SpooledMessage);
    return c.json(answered(await instanceOf(c.env, c.req.param("id")).receivedFromSpool(message, mappings)));
  })
  .post("/instances/:id/media-upload-url", async (c) => {
    const file = await bodyOf(c.req, Methods["media.upload_url"].params);
    return c.json(answered(await instanceOf(c.env, c.req.param("id")).uploadTicketFor(file)));
  })
  // Outbound media, stored when the message was accepted. `media_id` is `{project}/{id}`.
  .get("/media/:project/:id", async (c) => {
    const object = await c.env.MEDIA.get(mediaKeyOf(`${c.req.param("project")}/${c.req.param("id")}`));
    if (!object) throw notFound("media");
    return new Response(object.body, {
      headers: { "Content-Type": object.httpMetadata?.contentType ?? "application/octet-stream", "Content-Length": String(object.size) },
    });
  });

/** Through hono's request, which keeps the body the app's body checks already read. */
async function bodyOf<T extends z.ZodType>(request: HonoRequest, schema: T): Promise<z.infer<T>> {
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw validationError(parsed.error, "json");
  return parsed.data;
}

/**
 * The object's answer as HTTP. `instance_not_found` (the number was deleted)
 * tells the fleet to stop retrying; a plain 404 could be a route this edge
 * does not have yet.
 */
function answered<M extends MethodName>(answer: CommandResult<M>): Result<M> {
  if (answer.ok) return answer.result;
  if (answer.code === "not_found") throw new ApiError(404, "instance_not_found", "no such instance");
  if (answer.code === "media_unavailable") throw new ApiError(503, answer.code, answer.message);
  throw new ApiError(500, answer.code, answer.message);
}

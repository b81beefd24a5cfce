/**
 * /fleet: where fleet processes connect, behind POMBO_FLEET_TOKEN. Not part
 * of the public API (and not in the OpenAPI document): the WebSockets go
 * straight to the Durable Object that owns them.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { notFound } from "../errors.ts";
import { instanceStub, statusForQr } from "../services/instances.ts";
import { mediaKeyOf } from "../services/media.ts";

export const fleetRoutes = new Hono<AppEnv>()
  .get("/fleet/connect", (c) => c.env.DIRECTORY.get(c.env.DIRECTORY.idFromName("global")).fetch(c.req.raw))
  .get("/fleet/instances/:id/connect", (c) => instanceStub(c.env, c.req.param("id")).fetch(c.req.raw))
  .get("/fleet/instances/:id/qr", async (c) => {
    const { status } = await statusForQr(c.env, c.req.param("id"));
    if (!status) throw notFound("instance");
    return c.json({ state: status.state, reason: status.reason, qr: status.qr, qr_png: status.qr_png });
  })
  // Outbound media, stored when the message was accepted. `media_id` is `{project}/{id}`.
  .get("/fleet/media/:project/:id", async (c) => {
    const object = await c.env.MEDIA.get(mediaKeyOf(`${c.req.param("project")}/${c.req.param("id")}`));
    if (!object) throw notFound("media");
    return new Response(object.body, {
      headers: { "Content-Type": object.httpMetadata?.contentType ?? "application/octet-stream", "Content-Length": String(object.size) },
    });
  });

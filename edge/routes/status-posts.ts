/**
 * /status: WhatsApp status posts (stories), one route per type, sharing
 * one handler (the schemas: services/status-request.ts; the rules:
 * services/status-posts.ts). A post is a message: follow it at
 * `GET /messages/{id}` and in `message.*` events.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { postStatus } from "../services/status-posts.ts";
import { STATUS_TYPES, type StatusType, statusBody, statusRequest } from "../services/status-request.ts";
import { Accepted, IdempotencyHeader } from "./messages.ts";

const route = operations(["Status"]);

const summaries: Record<StatusType, string> = {
  text: "Post a text status (background colour and font)",
  image: "Post an image status (url or base64, with a caption)",
  video: "Post a video status",
  audio: "Post an audio status (ptt: true for a voice note)",
};

const StatusAccepted = Accepted.extend({
  audience_size: z.number().int().min(1).openapi({ description: "How many people it is shown to, after leaving out opted-out, suppressed and blocked ones." }),
}).openapi("StatusAccepted");

const DESCRIPTION =
  "Posts a WhatsApp status from `instance_id`, shown to `audience` or, without one, to the customers who talk to that number now. It is a message to `status@broadcast`: stored and queued on the number like any send, paced, with its statuses, `reference`, `Idempotency-Key` and `message.sent` / `message.status` events. 404 `not_found` (field `instance_id`): no such number in this project. 422 `no_audience`: nobody to show it to.";

export const statusRoutes = new OpenAPIHono<AppEnv>();
for (const type of STATUS_TYPES) {
  statusRoutes.openapi(
    route.post(`/${type}`, summaries[type], {
      description: DESCRIPTION,
      request: { body: jsonBody(statusBody(type)), headers: IdempotencyHeader },
      responses: { 202: json(StatusAccepted, "Accepted: stored and queued on its number"), ...errorsOf(400, 404, 413, 422, 429) },
    }),
    async (c) => {
      const key = c.req.valid("header")["idempotency-key"];
      const { accepted, replayed } = await postStatus(c.env, c.var.projectId, statusRequest(type, c.req.valid("json")), key);
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(accepted, 202);
    },
  );
}

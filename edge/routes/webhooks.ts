/** /webhooks: where the project's events go, signed per Standard Webhooks, and what happened to each delivery. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { DeliveryStatus, WebhookKind } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { IdParam, PageQuery, creating, errorsOf, json, jsonBody, listing, operations, paged, reading } from "../schemas.ts";
import * as webhooks from "../services/webhooks.ts";

const route = operations(["Webhooks"]);

const Url = z.url({ protocol: /^https?$/ }).max(2048).openapi({ example: "https://crm.example.com/hooks/pombo" });
const Filters = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(50)
  .openapi({
    example: ["message.*", "instance.disconnected"],
    description: "Event types (`message.received`), wildcards (`message.*`) or `*` for everything.",
  });

const WebhookInput = z
  .object({
    url: Url,
    events: Filters.default(["*"]),
    secret: z.string().max(200).optional().openapi({
      description: "A Standard Webhooks secret, `whsec_` + 24-64 random bytes in base64. Left out: one is generated.",
    }),
    description: z.string().max(500).nullish(),
  })
  .strict();

const WebhookChange = z
  .object({
    url: Url,
    events: Filters,
    description: z.string().max(500).nullable(),
    enabled: z.boolean().openapi({ description: "true turns a disabled endpoint back on and starts its health afresh." }),
    rotate_secret: z.boolean().openapi({ description: "true: a new secret, shown once in this answer; the old one stops at once." }),
  })
  .partial()
  .strict();

const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    kind: WebhookKind.openapi({ description: "`alert`: the project's alert URL, managed through /settings." }),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().openapi({ description: "Set when Pombo turned the endpoint off (failing for days)." }),
    failing_since: z.string().nullable(),
    last_success_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Webhook");

const WithSecret = Webhook.extend({
  secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", description: "Shown once: keep it to verify signatures." }),
}).openapi("WebhookWithSecret");

const Attempt = z.object({
  attempt: z.number().int(),
  status_code: z.number().int().nullable().openapi({ description: "Null when no HTTP answer came (refused, timeout)." }),
  error: z.string().nullable(),
  response_body: z.string().nullable().openapi({
    example: "upstream timeout",
    description: "The start (up to 500 characters) of a failed answer's body, as the endpoint sent it; null on success or when no answer came.",
  }),
  duration_ms: z.number().int(),
  at: z.string(),
});

const Delivery = z
  .object({
    id: z.string(),
    webhook_id: z.string(),
    event_id: z.string().openapi({ description: "The `webhook-id` header: the same on every retry and replay." }),
    event_type: z.string(),
    status: DeliveryStatus,
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    history: z.array(Attempt).openapi({ description: "Every attempt, oldest first." }),
  })
  .openapi("WebhookDelivery");

const DeliveryParams = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }),
  delivery_id: z.string().min(1).openapi({ param: { name: "delivery_id", in: "path" } }),
});

export const webhookRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/", "Add an endpoint (its secret is shown once)", {
      description:
        "Deliveries are POSTs of one event each, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`), retried with backoff for over 24 hours.",
      ...creating(WebhookInput, WithSecret),
    }),
    async (c) => c.json(await webhooks.createWebhook(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    route.get("/", "List endpoints", listing(Webhook, "A page of endpoints")),
    async (c) => c.json(await webhooks.webhooksPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.get("/{id}", "Get an endpoint", reading(Webhook, "The endpoint")),
    async (c) => c.json(await webhooks.getWebhook(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.patch("/{id}", "Change an endpoint (with rotate_secret, the new secret is in this answer, once)", {
      request: { params: IdParam, body: jsonBody(WebhookChange) },
      responses: { 200: json(WithSecret.partial({ secret: true }), "The endpoint"), ...errorsOf(400, 404, 409) },
    }),
    async (c) => c.json(await webhooks.changeWebhook(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    route.delete("/{id}", "Remove an endpoint and its delivery log", {
      request: { params: IdParam },
      responses: { 204: { description: "Removed" }, ...errorsOf(404, 409) },
    }),
    async (c) => {
      await webhooks.removeWebhook(c.env, c.var.projectId, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    route.get("/{id}/deliveries", "An endpoint's deliveries, newest first, each with its attempts", {
      request: { params: IdParam, query: PageQuery },
      responses: { 200: json(paged(Delivery), "A page of deliveries"), ...errorsOf(400, 404) },
    }),
    async (c) =>
      c.json(await webhooks.deliveriesPage(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    route.post("/{id}/deliveries/{delivery_id}/replay", "Send a delivery again (same event, same webhook-id)", {
      request: { params: DeliveryParams },
      responses: { 202: json(z.object({ id: z.string(), status: z.literal("pending") }), "Queued"), ...errorsOf(404, 409) },
    }),
    async (c) => {
      const { id, delivery_id } = c.req.valid("param");
      return c.json(await webhooks.replayDelivery(c.env, c.var.projectId, id, delivery_id), 202);
    },
  );

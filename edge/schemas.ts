/**
 * Schemas the API shares across routes, and the helpers routes declare
 * their operations with. Route-specific schemas live with their routes.
 * Everything here also feeds the OpenAPI document.
 */
import { type RouteConfig, createRoute, z } from "@hono/zod-openapi";
import { DisconnectReason, InstanceState } from "../shared/protocol.ts";
import { MessageDirection } from "./enums.ts";
import { NumberSettings } from "./services/number-settings.ts";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string().openapi({ example: "name: Invalid input: expected string, received number" }),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("Error");

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(200).openapi({ example: 200 }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
});

/** Lists that page by cursor (newest first): `next_cursor` of one page asks for the next. */
export const CursorQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ example: 50 }),
  cursor: z.string().min(1).max(500).optional().openapi({ description: "`next_cursor` of the previous page." }),
});

/** A point in time a filter takes (RFC 3339, any offset). */
export const instant = (description: string) =>
  z.iso.datetime({ offset: true }).optional().openapi({ example: "2026-07-01T00:00:00Z", description: `${description} (RFC 3339).` });

export const cursorPaged = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const paged = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });

/** The message directions as conversations and timelines publish them: inbound first. */
export const DirectionInboundFirst = MessageDirection.extract(["inbound", "outbound"]);

export const IdParam = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });

export const InstanceSchema = z
  .object({
    id: z.string().openapi({ example: "492e6b46-0c5f-4727-96e3-6f9f5e4f93e8" }),
    name: z.string(),
    state: InstanceState,
    reason: DisconnectReason.nullable().openapi({
      description:
        "Why it is disconnected: `transient` (reconnecting by itself), `logged_out` (rescan needed), `banned`, or `pairing_expired` (nobody scanned its QRs; `GET /instances/{id}/qr`, `POST /instances/{id}/pairing-code` or `/restart` starts pairing again).",
    }),
    proxy_url: z.string().nullable(),
    jid: z.string().nullable(),
    lid: z.string().nullable(),
    phone: z.string().nullable().openapi({ example: "+5511988887777" }),
    push_name: z.string().nullable(),
    last_close_code: z.number().int().nullable(),
    last_close_at: z.string().nullable(),
    fleet_id: z.string().nullable(),
    health: z.number().int().openapi({ description: "0-100; below the project's health_threshold the number leaves rotation." }),
    first_connected_at: z.string().nullable(),
    dead_socket_reconnects: z.number().int().openapi({
      description: "Times the number's WhatsApp socket went silent (no frames, no pongs) and the fleet replaced it.",
    }),
    sent_today: z.number().int(),
    last_sent_at: z.string().nullable(),
    warming: z
      .object({ day: z.number().int(), daily_limit: z.number().int(), sent_today: z.number().int(), ends_at: z.string() })
      .nullable()
      .openapi({ description: "While the number is warming: its day, today's cap and use, and when warming ends." }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Instance");

/** One instance as `GET /instances/{id}` shows it: with how it behaves. */
export const InstanceDetailSchema = InstanceSchema.extend({ settings: NumberSettings }).openapi("InstanceDetail");

/**
 * The error answers routes declare, each described once. A route lists its
 * own with `...errorsOf(400, 404)`; what answers before the route (the
 * credential's 401/403, a body's 400/413/415, a query's 400) is declared by
 * the audience it is mounted under (audiences.ts).
 */
const error = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });
export const errors = {
  400: error("Bad input; `details.field` names the field"),
  401: error("Missing or invalid credentials"),
  403: error(
    "Not allowed: `project_mismatch` (`X-Project-Id` names another project than the key's), or the number may not do this (e.g. `not_group_admin`: it is not an admin of the group); `details.field` names the field",
  ),
  404: error("No such resource in this project"),
  409: error("The resource is not in a state that allows this"),
  413: error("The file or body is over its size limit"),
  415: error("The body's Content-Type is not one this route takes (`details.accepted` names those it does), or its charset is not UTF-8"),
  422: error("Understood, but cannot be done (e.g. not_on_whatsapp)"),
  429: {
    ...error("A budget is spent (`rate_limited`: the API key's requests, or e.g. a number's hourly phone lookups); nothing was done. `Retry-After` says when it frees"),
    headers: z.object({ "Retry-After": z.string().openapi({ description: "Seconds until the budget frees", example: "1260" }) }),
  },
  501: error("Not supported by a non-official WhatsApp number"),
  503: {
    ...error("The number is not connected to WhatsApp right now (`not_connected`); nothing was done. `Retry-After` says when to try again"),
    headers: z.object({ "Retry-After": z.string().openapi({ description: "Seconds to wait before trying again", example: "15" }) }),
  },
  504: error("The number's fleet did not answer in time"),
} as const;

export type ErrorStatus = keyof typeof errors;

export const errorsOf = <S extends ErrorStatus>(...statuses: S[]) =>
  Object.fromEntries(statuses.map((status) => [status, errors[status]])) as Pick<typeof errors, S>;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/** The operations most resources have, declared alike: a page of them (`GET /`), one by id (`GET /{id}`), creating one (`POST /`). */
export const listing = <T extends z.ZodType>(item: T, description: string) => ({
  request: { query: PageQuery },
  responses: { 200: json(paged(item), description), ...errorsOf(400) },
});

export const reading = <T extends z.ZodType>(item: T, description: string) => ({
  request: { params: IdParam },
  responses: { 200: json(item, description), ...errorsOf(404) },
});

export const creating = <B extends z.ZodType, T extends z.ZodType, S extends keyof typeof errors = never>(body: B, item: T, ...more: S[]) => ({
  request: { body: jsonBody(body) },
  responses: { 201: json(item, "Created"), ...errorsOf<400 | S>(400, ...more) },
});

type Operation = Omit<RouteConfig, "method" | "path" | "tags" | "summary">;

/**
 * A route group's operations under its OpenAPI tags, one call each:
 * `route.get("/{id}", "Get a pool", { request, responses })` is createRoute
 * with the method, path, tags and summary filled in.
 */
export function operations(tags: string[]) {
  const at =
    <M extends RouteConfig["method"]>(method: M) =>
    <P extends string, O extends Operation>(path: P, summary: string, operation: O) =>
      createRoute({ ...operation, method, path, tags, summary });
  return { get: at("get"), post: at("post"), patch: at("patch"), delete: at("delete") };
}

/** /events: the project's events, live, as Server-Sent Events, and the tokens browsers open them with. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { db } from "../db/client.ts";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, operations } from "../schemas.ts";
import { EVENT_ID_PATTERN } from "../services/event-shards.ts";
import { openEventStream } from "../services/event-stream.ts";
import { issueStreamToken, STREAM_TOKEN_TTL_MS } from "../services/stream-tokens.ts";

const route = operations(["Events"]);

const EventId = z
  .string()
  .regex(EVENT_ID_PATTERN, "expected the id of an event frame (digits, or digit groups joined by dots)")
  .openapi({ example: "42" });

const StreamToken = z
  .object({
    token: z.string().openapi({ example: "pb_st_...", description: "Pass as `GET /events?stream_token=`. Good for one connection." }),
    expires_at: z.string().openapi({ description: `Unused, it expires ${STREAM_TOKEN_TTL_MS / 1000} seconds after it was made.` }),
  })
  .openapi("StreamToken");

export const eventRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/token", "A single-use token that opens the event stream from a browser", {
      description:
        "EventSource cannot send an Authorization header, and an API key in a URL would land in logs and history. A page that holds the key asks for one of these and opens `/events?stream_token=<token>`; each reconnect asks for a new one (with `last_event_id`, nothing is missed).",
      responses: { 201: json(StreamToken, "The token") },
    }),
    async (c) => c.json(await issueStreamToken(db(c.env.DB), c.var.projectId), 201),
  )
  .openapi(
  route.get("/", "Stream the project's events (Server-Sent Events)", {
    description: [
      "Each event is one frame: `id: <position>`, `event: <type>`, `data: <the event, as webhooks get it>`.",
      "The position is a number that grows with each frame (`42`) or, where the deployment spreads a project's events over several hubs (`POMBO_EVENT_SHARDS`), one such number per hub joined by dots (`42.0.17.5`): treat it as opaque and hand it back as it came.",
      "Each number's events keep their order; events of different numbers may interleave differently on two streams.",
      "Resume after a drop with the `Last-Event-ID` header (browsers' EventSource sends it) or `?last_event_id=`:",
      "every event after that id still in the 72-hour log is replayed, then the stream goes live, with no gap and no repeat.",
      "If some of the missed events are past retention, an `event: gap` frame says so first.",
      "A `: keep-alive` comment comes every 15 seconds. Media links are signed when each frame leaves.",
      "A browser, whose EventSource cannot send headers, passes `?stream_token=` from `POST /events/token` instead of the API key.",
    ].join(" "),
    request: {
      query: z.object({
        stream_token: z
          .string()
          .max(100)
          .optional()
          .openapi({ description: "Instead of the Authorization header: a token from `POST /events/token`, good for one connection." }),
        last_event_id: EventId.optional().openapi({ description: "Resume after this id (the header wins when both are given)." }),
        types: z
          .string()
          .max(1000)
          .optional()
          .openapi({ example: "message.*,instance.disconnected", description: "Only these event types (comma-separated, wildcards allowed)." }),
      }),
      headers: z.object({ "last-event-id": EventId.optional() }),
    },
    responses: {
      200: {
        description: "An endless event stream",
        content: {
          "text/event-stream": {
            schema: z.string().openapi({
              example: 'id: 42\nevent: message.received\ndata: {"id":"evt_...","type":"message.received",...}\n\n',
            }),
          },
        },
      },
      ...errorsOf(400),
    },
  }),
  async (c) => {
    const { last_event_id, types } = c.req.valid("query");
    const lastEventId = c.req.valid("header")["last-event-id"] ?? last_event_id;
    return openEventStream(c.env, c.var.projectId, { lastEventId, types }, c.req.raw.signal);
  },
);

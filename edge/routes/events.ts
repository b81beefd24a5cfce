/** /events: the project's events, live, as Server-Sent Events. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorsOf, operations } from "../schemas.ts";
import { openEventStream } from "../services/event-stream.ts";

const route = operations(["Events"]);

const EventId = z.string().regex(/^\d{1,15}$/, "expected the numeric id of an event frame");

export const eventRoutes = new OpenAPIHono<AppEnv>().openapi(
  route.get("/", "Stream the project's events (Server-Sent Events)", {
    description: [
      "Each event is one frame: `id: <seq>`, `event: <type>`, `data: <the event, as webhooks get it>`.",
      "Resume after a drop with the `Last-Event-ID` header (browsers' EventSource sends it) or `?last_event_id=`:",
      "every event after that id still in the 72-hour log is replayed, then the stream goes live, with no gap and no repeat.",
      "If some of the missed events are past retention, an `event: gap` frame says so first.",
      "A `: keep-alive` comment comes every 15 seconds. Media links are signed when each frame leaves.",
    ].join(" "),
    request: {
      query: z.object({
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

/**
 * /messages: one route per type (reference 002), all sharing the common
 * fields and one handler (the schemas: services/send-request.ts);
 * `GET /messages/{id}` for status and history, `GET /messages` to search. Forwarding is a 501.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { MessageActor, MessageDirection, StoredMessageStatus } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { InboundType } from "../../shared/protocol.ts";
import { CursorQuery, IdParam, cursorPaged, errorsOf, instant, json, jsonBody, operations } from "../schemas.ts";
import { KEY_TTL_HOURS } from "../services/idempotency.ts";
import { searchMessagesPage } from "../services/message-search.ts";
import { getMessage, sendMessage } from "../services/messages.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { SEND_TYPES, type SendType, sendBody, sendRequest } from "../services/send-request.ts";
import { notSupported } from "./not-supported.ts";

const route = operations(["Messages"]);


const summaries: Record<SendType, string> = {
  text: "Send a text",
  image: "Send an image (url or base64)",
  video: "Send a video",
  document: "Send a document",
  audio: "Send audio (ptt: true for a voice note)",
  sticker: "Send a sticker (webp)",
  location: "Send a location",
  contact: "Send a contact card (vCard)",
  reaction: "React to a message",
  poll: "Send a poll",
  buttons: "Send buttons (delivered as a numbered text menu)",
  list: "Send a list (delivered as a numbered text menu)",
  otp: "Send a one-time code: a context text, then the bare code",
};

const Accepted = z
  .object({
    id: z.string(),
    status: z.literal("queued"),
    instance_id: z.string(),
    chat_jid: z.string(),
    reference: z.string().nullable(),
  })
  .openapi("Accepted");

const MessageFields = z
  .object({
    id: z.string(),
    instance_id: z.string(),
    chat_jid: z.string(),
    direction: MessageDirection,
    type: z.string(),
    content: z.record(z.string(), z.unknown()),
    status: StoredMessageStatus,
    reason: z.string().nullable(),
    reference: z.string().nullable(),
    wa_message_id: z.string().nullable(),
    wa_message_ids: z.array(z.string()).nullable(),
    tags: z.array(z.string()).nullable(),
    groups: z.array(z.string()).nullable(),
    sent_at: z.string().nullable(),
    contact_id: z.string().nullable().openapi({ description: "The customer, once the message is in their conversation." }),
    conversation_id: z.string().nullable(),
    sender_jid: z.string().nullable().openapi({ description: "Received: who wrote it (the participant in groups)." }),
    quoted_id: z.string().nullable().openapi({ description: "The WhatsApp id this message replies or reacts to." }),
    media_id: z.string().nullable(),
    from_me: z.boolean().openapi({ description: "Written on the number's own phone app." }),
    edited_at: z.string().nullable().openapi({ description: "When its body (a text, a caption) was last edited; null if never." }),
    created_at: z.string(),
    updated_at: z.string(),
  });

const Message = MessageFields.extend({
  history: z.array(z.object({ status: z.string(), reason: z.string().nullable(), at: z.string() })),
  edits: z
    .array(z.object({ previous_body: z.string().nullable(), body: z.string(), by: MessageActor, at: z.string() }))
    .openapi({ description: "Its edits, oldest first: the body before and after each, and who made it (`customer`, `phone`: the number's own phone app, `api`)." }),
}).openapi("Message");

const MessageSummary = MessageFields.openapi("MessageSummary", {
  description: "A message as GET /messages/{id} shows it, without its status `history` and `edits` (ask GET /messages/{id} for those).",
});

const MESSAGE_TYPES = [...new Set<string>([...SEND_TYPES, ...InboundType.options])] as [string, ...string[]];

const SearchQuery = CursorQuery.extend({
  status: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .openapi({ type: "string", example: "queued", description: `One or more of ${StoredMessageStatus.options.join(", ")}, comma-separated or repeated.` }),
  instance_id: z.string().min(1).max(100).optional().openapi({ description: "The number that sent or received it." }),
  direction: MessageDirection.optional(),
  to: z.string().min(1).max(100).optional().openapi({
    example: "+5511988887777",
    description: `The chat: the person (or group) it was sent to or received from, as a send's \`to\` takes it: a phone in any spelling (either Brazilian form finds both) or a JID (\`@s.whatsapp.net\`, \`@lid\`, \`@g.us\`). ${PHONE_RULE}`,
  }),
  reference: z.string().min(1).max(200).optional().openapi({ description: "Your reference, exactly as sent." }),
  type: z.enum(MESSAGE_TYPES).optional(),
  since: instant("Created at or after"),
  until: instant("Created before"),
});

const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      description: `Retrying with the same key and the same request (route and body) answers the first result (same id, header \`Idempotent-Replayed: true\`) and sends nothing more. The same key with another body or route answers 422 \`idempotency_key_reused\`. Keys are kept ${KEY_TTL_HOURS} hours; after that, or when the first request was not accepted (503), the key is free for a new request.`,
    }),
});

function sendRoute(app: OpenAPIHono<AppEnv>, type: SendType) {
  return app.openapi(
    route.post(`/${type}`, summaries[type], {
      request: { body: jsonBody(sendBody(type)), headers: IdempotencyHeader },
      responses: { 202: json(Accepted, "Accepted: stored and queued on its number"), ...errorsOf(400, 404, 409, 413, 422, 429) },
    }),
    async (c) => {
      const key = c.req.valid("header")["idempotency-key"];
      const { accepted, replayed } = await sendMessage(c.env, c.var.projectId, sendRequest(type, c.req.valid("json")), key);
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(accepted, 202);
    },
  );
}

export const messageRoutes = new OpenAPIHono<AppEnv>();
for (const type of SEND_TYPES) sendRoute(messageRoutes, type);

messageRoutes.openapi(
  route.get("/", "Search messages, newest first", {
    description:
      "The project's messages, sent and received, newest first, by cursor. Filters combine; a message still waiting to leave is `status=queued`. Items leave out the status history (GET /messages/{id}); an OTP shows its masked code only.",
    request: { query: SearchQuery },
    responses: { 200: json(cursorPaged(MessageSummary), "A page of messages"), ...errorsOf(400) },
  }),
  async (c) => c.json(await searchMessagesPage(c.env, c.var.projectId, c.req.valid("query")), 200),
);
messageRoutes.openapi(
  route.get("/{id}", "A message, its status and its status history", {
    request: { params: IdParam },
    responses: { 200: json(Message, "The message"), ...errorsOf(404) },
  }),
  async (c) => c.json(await getMessage(c.env, c.var.projectId, c.req.valid("param").id), 200),
);
messageRoutes.all("/forward", notSupported);

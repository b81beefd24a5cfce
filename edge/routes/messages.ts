/**
 * /messages: one route per type (reference 002), all sharing the common
 * fields and one handler (the schemas: services/send-request.ts);
 * `GET /messages/{id}` for status and history, `GET /messages` to search,
 * `PATCH` and `DELETE /messages/{id}` to edit and delete our own (the rules:
 * services/message-actions.ts). Forwarding is a 501.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { MessageActor, MessageDirection, StoredMessageStatus } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { InboundType } from "../../shared/protocol.ts";
import { CursorQuery, IdParam, cursorPaged, errorsOf, instant, json, jsonBody, operations } from "../schemas.ts";
import { KEY_TTL_HOURS } from "../services/idempotency.ts";
import { EDIT_WINDOW_MS, REVOKE_WINDOW_MS, deleteMessage, editMessage } from "../services/message-actions.ts";
import { searchMessagesPage } from "../services/message-search.ts";
import { getMessage, sendMessage } from "../services/messages.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { readMessage } from "../services/read-receipts.ts";
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

export const Accepted = z
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
    edited_at: z.string().nullable().openapi({ description: "When its body (a text or caption) was last edited; `content` holds the current one." }),
    read_at: z.string().nullable().openapi({ description: "Received: when the number read it (its WhatsApp read receipt was sent or queued); null while unread." }),
    created_at: z.string(),
    updated_at: z.string(),
  });

const Message = MessageFields.extend({
  history: z.array(z.object({ status: z.string(), reason: z.string().nullable(), at: z.string() })),
  edits: z
    .array(z.object({ previous_body: z.string().nullable(), body: z.string(), by: MessageActor, at: z.string() }))
    .openapi({ description: "Its edits, oldest first: the body before and after each, and who made it (`api`, `customer`, `phone`)." }),
}).openapi("Message");

const EditBody = z
  .object({
    body: z
      .string()
      .min(1)
      .max(4096)
      .refine((text) => text.trim() !== "", "must not be blank")
      .openapi({ description: "The new text, or caption for an image, video or document.", example: "Your order ships tomorrow (not today)" }),
  })
  .openapi("MessageEdit");

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

export const IdempotencyHeader = z.object({
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
      "The project's messages, sent and received, newest first, by cursor. Filters combine; a message still waiting to leave is `status=queued`. Items leave out the status history and edits (GET /messages/{id}); an OTP shows its masked code only.",
    request: { query: SearchQuery },
    responses: { 200: json(cursorPaged(MessageSummary), "A page of messages"), ...errorsOf(400) },
  }),
  async (c) => c.json(await searchMessagesPage(c.env, c.var.projectId, c.req.valid("query")), 200),
);
messageRoutes.openapi(
  route.get("/{id}", "A message, its status, its status history and its edits", {
    request: { params: IdParam },
    responses: { 200: json(Message, "The message"), ...errorsOf(404) },
  }),
  async (c) => c.json(await getMessage(c.env, c.var.projectId, c.req.valid("param").id), 200),
);
messageRoutes.openapi(
  route.post("/{id}/read", "Send the WhatsApp read receipt of a received message", {
    description:
      "The customer sees blue ticks on it, through the number that received it. The receipt is kept by that number until WhatsApp has it (a number offline sends it when it is back). A message read before (here, by a conversation read, or by `auto_read`) gets no second one: `receipts_queued` is 0.",
    request: { params: IdParam },
    responses: {
      202: json(z.object({ id: z.string(), receipts_queued: z.number().int().min(0).max(1) }).openapi("MessageRead"), "Queued on its number"),
      ...errorsOf(404, 409),
    },
  }),
  async (c) => c.json(await readMessage(c.env, c.var.projectId, c.req.valid("param").id), 202),
);
messageRoutes.all("/forward", notSupported);
messageRoutes.openapi(
  route.patch("/{id}", "Edit a sent message's text or caption", {
    description: `Edits one of the number's sent messages on WhatsApp (a text, or the caption of an image, video or document): the customer sees it marked edited. WhatsApp allows this for ${EDIT_WINDOW_MS / 60_000} minutes after \`sent_at\`; the edit is done when the answer comes (it is not queued), and the message keeps its earlier bodies in \`edits\`. Editing to the body it has answers 200 and sends nothing, so a retry is safe. 409 codes: \`not_sent\` (queued, failed or canceled), \`message_deleted\`, \`not_ours\` (a received message), \`not_editable\` (a type with no editable text), \`edit_window_closed\`. 503 \`not_connected\`: the number is offline; nothing was done.`,
    request: { params: IdParam, body: jsonBody(EditBody) },
    responses: { 200: json(Message, "The message, edited"), ...errorsOf(400, 404, 409, 422, 504) },
  }),
  async (c) => c.json(await editMessage(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json").body), 200),
);
messageRoutes.openapi(
  route.delete("/{id}", "Cancel a queued message, or delete a sent one for everyone", {
    description: `A queued message is canceled (status \`canceled\`, a \`message.status\` event): it never leaves; 409 \`sending\` while it is being handed to WhatsApp (once sent, delete it again). A sent one (sent, delivered, read, played) is deleted for everyone on WhatsApp, every part of it, within ${REVOKE_WINDOW_MS / 3_600_000} hours (2 days and 12 hours) of \`sent_at\`, then kept as status \`deleted\` with its content (a \`message.deleted\` event). Deleted and canceled messages answer 200 as they are. 409 codes: \`not_sent\` (failed), \`not_ours\` (a received message), \`delete_window_closed\`, \`sending\`. 503 \`not_connected\`: the number is offline; nothing was done.`,
    request: { params: IdParam },
    responses: { 200: json(Message, "The message, canceled or deleted"), ...errorsOf(404, 409, 422, 504) },
  }),
  async (c) => c.json(await deleteMessage(c.env, c.var.projectId, c.req.valid("param").id), 200),
);

/**
 * /conversations (references 000, 002, 004): each customer's one
 * conversation across all numbers, its history, and marking it read.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { StoredMessageStatus } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { CursorQuery, DirectionInboundFirst, cursorPaged, errorsOf, json, operations } from "../schemas.ts";
import { conversationMessagesPage, conversationsPage, readConversation } from "../services/conversations.ts";
import { PHONE_RULE } from "../services/phone-input.ts";

const route = operations(["Conversations"]);

const JidParam = z.object({
  jid: z
    .string()
    .min(3)
    .max(100)
    .openapi({
      param: { name: "jid", in: "path" },
      example: "5511988887777@s.whatsapp.net",
      description: `The customer's phone JID, \`+phone\` (either Brazilian form) or LID. ${PHONE_RULE}`,
    }),
});

const Contact = z
  .object({
    id: z.string(),
    phone: z.string().nullable().openapi({ example: "+5511988887777" }),
    jid: z.string().nullable().openapi({ example: "5511988887777@s.whatsapp.net" }),
    lid: z.string().nullable(),
    name: z.string().nullable(),
  })
  .openapi("ConversationContact");

const Conversation = z
  .object({
    id: z.string(),
    chat_jid: z.string().openapi({ description: "The canonical JID: the phone's when known, else the LID." }),
    contact: Contact,
    instance_id: z.string().nullable().openapi({ description: "The number talking to this customer now (their sticky number)." }),
    last_message: z
      .object({ id: z.string(), type: z.string(), direction: DirectionInboundFirst, body: z.string().nullable(), status: StoredMessageStatus, created_at: z.string() })
      .nullable(),
    unread_count: z.number().int(),
    last_message_at: z.string().nullable(),
    last_inbound_at: z.string().nullable(),
    window_expires_at: z.string().nullable().openapi({ description: "24 hours after the customer's last message (reference 004); null if they never wrote." }),
    window_open: z.boolean(),
    created_at: z.string(),
  })
  .openapi("Conversation");

const MediaRef = z.object({
  id: z.string().optional(),
  url: z.string().optional().openapi({ description: "Signed and expiring: follow it again via a fresh history page, don't store it." }),
  mime_type: z.string(),
  filename: z.string().nullable(),
  size: z.number().int(),
  ptt: z.boolean().optional(),
});

const HistoryMessage = z
  .looseObject({
    id: z.string(),
    direction: DirectionInboundFirst,
    status: StoredMessageStatus,
    instance_id: z.string(),
    chat_jid: z.string(),
    wa_message_id: z.string().nullable().openapi({ description: "Sends: only once sent." }),
    reference: z.string().nullable(),
    type: z.string(),
    from: z.string().optional().openapi({ description: "Received messages: the customer's canonical JID." }),
    to: z.string().optional().openapi({ description: "Sent messages: the chat it went to." }),
    body: z.string().nullable(),
    quoted_id: z.string().optional().openapi({ description: "A reply or reaction: the WhatsApp id of the message it quotes." }),
    quoted_message_id: z.string().optional().openapi({ description: "Our id of that message, when we have it." }),
    mentions: z.array(z.string()).optional().openapi({ description: "Who it mentions, as JIDs (phone JIDs; a LID whose phone is not known)." }),
    media: MediaRef.optional(),
    created_at: z.string(),
  })
  .openapi("ConversationMessage", { description: "A message in reference 002's shape (plus the type's own fields: location, contact, poll, poll_vote)." });

export const conversationRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/", "List conversations, newest activity first", {
      request: { query: CursorQuery.extend({ instance_id: z.string().min(1).optional().openapi({ description: "Only the conversations this number holds now." }) }) },
      responses: { 200: json(cursorPaged(Conversation), "A page of conversations"), ...errorsOf(400) },
    }),
    async (c) => c.json(await conversationsPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.get("/{jid}/messages", "A conversation's messages, newest first", {
      request: { params: JidParam, query: CursorQuery },
      responses: { 200: json(cursorPaged(HistoryMessage), "A page of messages"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await conversationMessagesPage(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("query")), 200),
  )
  .openapi(
    route.post("/{jid}/read", "Mark a conversation read", {
      request: { params: JidParam },
      responses: { 200: json(z.object({ id: z.string(), chat_jid: z.string(), unread_count: z.literal(0) }), "Read"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await readConversation(c.env, c.var.projectId, c.req.valid("param").jid), 200),
  );

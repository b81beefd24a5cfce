/**
 * /conversations (references 000, 002, 004): each customer's one
 * conversation across all numbers, its history, marking it read (with
 * WhatsApp read receipts), and presence in it (typing, and the customer's).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ChatState } from "../../shared/protocol.ts";
import { StoredMessageStatus } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { CursorQuery, DirectionInboundFirst, cursorPaged, errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { conversationMessagesPage, conversationsPage } from "../services/conversations.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { sendPresence, subscribePresence, unsubscribePresence } from "../services/presence.ts";
import { MAX_RECEIPTS_PER_READ, readConversation } from "../services/read-receipts.ts";

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
    reason: z.string().nullable().openapi({ description: "Why it failed or was deleted (as GET /messages/{id} says); null otherwise." }),
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

const InstanceChoice = z.string().min(1).optional().openapi({
  description:
    "The number to do it through. Default: the number that talks to this customer (their sticky number, else the conversation's). Needed for a JID with no conversation yet.",
});

const ConversationRead = z
  .object({
    id: z.string(),
    chat_jid: z.string(),
    unread_count: z.literal(0),
    receipts_queued: z.number().int().openapi({
      description: `Received messages that got their WhatsApp read receipt now, each through the number that received it (at most ${MAX_RECEIPTS_PER_READ}, the newest; a message read before gets none). Kept by the number until WhatsApp has them: a number offline sends them when it is back.`,
    }),
  })
  .openapi("ConversationRead");

const PresenceBody = z
  .object({
    state: ChatState.openapi({ description: "`composing`: typing...; `recording`: recording audio...; `paused`: neither any more." }),
    instance_id: InstanceChoice,
  })
  .openapi("PresenceRequest");

const PresenceSent = z
  .object({ jid: z.string().openapi({ example: "5511988887777@s.whatsapp.net" }), instance_id: z.string(), state: ChatState })
  .openapi("PresenceSent");

const SubscribeBody = z.object({ instance_id: InstanceChoice }).openapi("PresenceSubscribeRequest");

const PresenceSubscription = z
  .object({ jid: z.string().openapi({ example: "5511988887777@s.whatsapp.net" }), instance_id: z.string(), subscribed: z.boolean() })
  .openapi("PresenceSubscription");

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
    route.post("/{jid}/read", "Mark a conversation read, and send WhatsApp read receipts for its unread messages", {
      request: { params: JidParam },
      responses: { 200: json(ConversationRead, "Read; the receipts are queued on their numbers"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await readConversation(c.env, c.var.projectId, c.req.valid("param").jid), 200),
  )
  .openapi(
    route.post("/{jid}/presence", "Show typing or recording in the chat, or stop", {
      request: { params: JidParam, body: jsonBody(PresenceBody) },
      responses: {
        200: json(PresenceSent, "Shown to the customer (until `paused`, another message, or WhatsApp's own timeout of about 25 s)"),
        ...errorsOf(400, 404, 409, 504),
      },
    }),
    async (c) => c.json(await sendPresence(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("json")), 200),
  )
  .openapi(
    route.post("/{jid}/presence/subscribe", "Watch the customer's presence (presence.update events)", {
      request: { params: JidParam, body: { required: false, content: { "application/json": { schema: SubscribeBody } } } },
      responses: {
        200: json(PresenceSubscription, "Subscribed: kept until deleted or the number is logged out, and made again whenever the number reconnects"),
        ...errorsOf(400, 404, 409),
      },
    }),
    async (c) => c.json(await subscribePresence(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("json") ?? {}), 200),
  )
  .openapi(
    route.delete("/{jid}/presence/subscribe", "Stop watching the customer's presence", {
      request: { params: JidParam, query: SubscribeBody },
      responses: { 200: json(PresenceSubscription, "Not subscribed (any more)"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await unsubscribePresence(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("query")), 200),
  );

/**
 * /messages: one route per type (reference 002), all sharing the common
 * fields and one handler; `GET /messages/{id}` for status and history.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { IdParam, errors, json, jsonBody } from "../schemas.ts";
import { type SendRequest, getMessage, sendMessage } from "../services/messages.ts";
import { KEY_TTL_HOURS } from "../services/idempotency.ts";
import { PHONE_RULE } from "../services/phone-input.ts";

const tags = ["Messages"];

const Common = z.object({
  to: z.string().trim().min(3).max(64).openapi({ example: "+5511988887777", description: `A phone in any common format, or a JID (@s.whatsapp.net, @lid, @g.us). ${PHONE_RULE}` }),
  instance_id: z.string().min(1).optional().openapi({ description: "Send through exactly this number." }),
  pool_id: z.string().min(1).optional().openapi({ description: "Rotate within this pool." }),
  sticky: z.boolean().default(true).openapi({ description: "false: rotate even if a number already talks to this contact." }),
  reference: z.string().max(200).optional().openapi({ description: "Your own id, echoed on every event of this message." }),
  tags: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
  groups: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
});

const Media = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    base64: z.string().min(1).optional(),
    caption: z.string().max(4096).optional(),
    filename: z.string().max(255).optional(),
    mimetype: z.string().max(127).optional(),
    ptt: z.boolean().optional().openapi({ description: "Audio only: send as a voice note." }),
  })
  .refine((m) => (m.url === undefined) !== (m.base64 === undefined), { message: "give exactly one of url or base64", path: ["url"] });

const Option = z.object({ id: z.string().min(1).max(200), title: z.string().min(1).max(100), description: z.string().max(200).optional() });

const bodies = {
  text: z.object({ body: z.string().min(1).max(65_536) }),
  image: z.object({ media: Media }),
  video: z.object({ media: Media }),
  document: z.object({ media: Media }),
  audio: z.object({ media: Media }),
  sticker: z.object({ media: Media }),
  location: z.object({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().max(256).optional(),
    address: z.string().max(512).optional(),
  }),
  contact: z
    .object({
      contact_name: z.string().trim().min(1).max(256),
      contact_phone: z
        .string()
        .regex(/^\+?[\d\s().-]{6,20}$/)
        .optional()
        .openapi({ description: `The card's WhatsApp number (its \`waid\`), read like \`to\`. ${PHONE_RULE}` }),
      contact_vcard: z.string().startsWith("BEGIN:VCARD").max(10_000).optional(),
    })
    .refine((c) => c.contact_vcard || c.contact_phone, { message: "give contact_vcard or contact_phone", path: ["contact_vcard"] }),
  reaction: z.object({ quoted_message_id: z.string().min(1).max(128), emoji: z.string().max(16) }),
  poll: z
    .object({
      name: z.string().trim().min(1).max(256),
      options: z.array(z.string().trim().min(1).max(100)).min(2).max(12),
      selectable_count: z.number().int().min(0).optional(),
    })
    .refine((p) => new Set(p.options).size === p.options.length, { message: "options must differ", path: ["options"] })
    .refine((p) => (p.selectable_count ?? 1) <= p.options.length, { message: "more than the options", path: ["selectable_count"] }),
  buttons: z.object({
    body: z.string().min(1).max(4096),
    title: z.string().max(60).optional(),
    footer: z.string().max(60).optional(),
    buttons: z.array(Option.omit({ description: true })).min(1).max(10),
  }),
  list: z.object({
    body: z.string().min(1).max(4096),
    title: z.string().max(60).optional(),
    footer: z.string().max(60).optional(),
    button_text: z.string().max(20).optional(),
    sections: z.array(z.object({ title: z.string().max(24).optional(), rows: z.array(Option).min(1).max(10) })).min(1).max(10),
  }),
  otp: z.object({
    code: z.string().regex(/^[A-Za-z0-9-]{3,12}$/, "3 to 12 letters, digits or dashes"),
    body: z.string().min(1).max(1024).optional(),
    expiry_minutes: z.number().int().min(1).max(1440).optional(),
  }),
} as const;

type MessageType = keyof typeof bodies;

const summaries: Record<MessageType, string> = {
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

const Message = z
  .object({
    id: z.string(),
    instance_id: z.string(),
    chat_jid: z.string(),
    direction: z.enum(["outbound", "inbound"]),
    type: z.string(),
    content: z.record(z.string(), z.unknown()),
    status: z.enum(["queued", "sent", "delivered", "read", "played", "failed", "received"]),
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
    created_at: z.string(),
    updated_at: z.string(),
    history: z.array(z.object({ status: z.string(), reason: z.string().nullable(), at: z.string() })),
  })
  .openapi("Message");

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

function sendRoute(app: OpenAPIHono<AppEnv>, type: MessageType) {
  const Body = Common.and(bodies[type]);
  return app.openapi(
    createRoute({
      method: "post",
      path: `/messages/${type}`,
      tags,
      summary: summaries[type],
      request: { body: jsonBody(Body), headers: IdempotencyHeader },
      responses: {
        202: json(Accepted, "Accepted: stored and queued on its number"),
        400: errors[400],
        401: errors[401],
        404: errors[404],
        409: errors[409],
        413: errors[413],
        422: errors[422],
      },
    }),
    async (c) => {
      const request = { ...c.req.valid("json"), type } as SendRequest;
      const key = c.req.valid("header")["idempotency-key"];
      const { accepted, replayed } = await sendMessage(c.env, c.var.projectId, request, key);
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(accepted, 202);
    },
  );
}

export const messageRoutes = new OpenAPIHono<AppEnv>();
for (const type of Object.keys(bodies) as MessageType[]) sendRoute(messageRoutes, type);

messageRoutes.openapi(
  createRoute({
    method: "get",
    path: "/messages/{id}",
    tags,
    summary: "A message, its status and its status history",
    request: { params: IdParam },
    responses: { 200: json(Message, "The message"), 401: errors[401], 404: errors[404] },
  }),
  async (c) => c.json(await getMessage(c.env, c.var.projectId, c.req.valid("param").id), 200),
);

/**
 * What a client may ask to send (reference 002): the fields every type
 * shares and each type's own, as zod schemas. The route validates and
 * documents with them (`POST /messages/{type}`); the service's `SendRequest`
 * is inferred from them, so the two cannot drift.
 */
import { z } from "@hono/zod-openapi";
import { PHONE_RULE } from "./phone-input.ts";

export const SendCommon = z.object({
  to: z.string().trim().min(3).max(64).openapi({ example: "+5511988887777", description: `A phone in any common format, or a JID (@s.whatsapp.net, @lid, @g.us). ${PHONE_RULE}` }),
  instance_id: z.string().min(1).optional().openapi({ description: "Send through exactly this number." }),
  pool_id: z.string().min(1).optional().openapi({ description: "Rotate within this pool." }),
  sticky: z.boolean().default(true).openapi({ description: "false: rotate even if a number already talks to this contact." }),
  reference: z.string().max(200).optional().openapi({ description: "Your own id, echoed on every event of this message." }),
  tags: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
  groups: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
  quoted_message_id: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .openapi({
      description:
        "Reply to this message (our id or its WhatsApp id), quoted on WhatsApp. It must be in the same chat; the reply goes through the number that has it. Unknown: 422 `quoted_message_not_found`.",
    }),
});

export const Media = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    base64: z.string().min(1).optional(),
    caption: z.string().max(4096).optional(),
    filename: z.string().max(255).optional(),
    mimetype: z.string().max(127).optional(),
    ptt: z.boolean().optional().openapi({ description: "Audio only: send as a voice note." }),
  })
  .refine((m) => (m.url === undefined) !== (m.base64 === undefined), { message: "give exactly one of url or base64", path: ["url"] });

const Mentions = z
  .array(z.string().trim().min(1).max(64))
  .min(1)
  .max(50)
  .optional()
  .openapi({
    description:
      'People to mention (phones or JIDs), notified as WhatsApp mentions; write `@<digits>` in the text where each should show. `["all"]` in a group mentions every participant.',
    example: ["+5511988887777"],
  });

const Option = z.object({ id: z.string().min(1).max(200), title: z.string().min(1).max(100), description: z.string().max(200).optional() });

/** Each type's own fields, by the type's name (the route's last segment). */
export const sendBodies = {
  text: z.object({ body: z.string().min(1).max(65_536), mentions: Mentions }),
  image: z.object({ media: Media, mentions: Mentions }),
  video: z.object({ media: Media, mentions: Mentions }),
  document: z.object({ media: Media, mentions: Mentions }),
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
      contact_vcard: z
        .string()
        .startsWith("BEGIN:VCARD")
        .max(10_000)
        .optional()
        .openapi({
          description:
            "Without it, a simple vCard is made from contact_name and contact_phone, or the sending number's own phone (409 `instance_phone_unknown` before that number has connected).",
        }),
    }),
  reaction: z.object({
    quoted_message_id: z.string().min(1).max(128).openapi({ description: "The message reacted to (our id or its WhatsApp id), in the same chat." }),
    emoji: z.string().max(16),
  }),
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

export type SendType = keyof typeof sendBodies;
export const SEND_TYPES = Object.keys(sendBodies) as SendType[];

/** The body `POST /messages/{type}` takes. */
export const sendBody = <T extends SendType>(type: T) => SendCommon.and(sendBodies[type]);
type SendBody<T extends SendType> = z.output<typeof SendCommon> & z.output<(typeof sendBodies)[T]>;

/** One send as the service takes it: a validated body and its type (`SendRequest<"text">` for one type, the union by default). */
export type SendRequest<T extends SendType = SendType> = { [K in T]: { type: K } & SendBody<K> }[T];

/** The request a route's validated body makes; TypeScript holds each type to its own body. */
export const sendRequest = <T extends SendType>(type: T, body: SendBody<T>): SendRequest<T> => ({ ...body, type });

/**
 * What a client may ask to post as a WhatsApp status (story): the fields
 * every status shares and each type's own, as zod schemas. The route
 * validates and documents with them (`POST /status/{type}`); the service's
 * `StatusRequest` is inferred from them.
 */
import { z } from "@hono/zod-openapi";
import { STATUS_COLOR, StatusFont } from "../../shared/protocol.ts";
import { PHONE_RULE } from "./phone-input.ts";
import { Media, SendCommon } from "./send-request.ts";

/** Most people one status is shown to: the audience given, or the number's contacts when none is. */
export const STATUS_AUDIENCE_MAX = 1000;
/** WhatsApp's own limit on a text status. */
const STATUS_TEXT_MAX = 700;

export const StatusCommon = z.object({
  instance_id: z.string().min(1).openapi({ description: "The number that posts it. Required: a status is that number's own." }),
  audience: z
    .array(z.string().trim().min(3).max(64))
    .min(1)
    .max(STATUS_AUDIENCE_MAX)
    .optional()
    .openapi({
      example: ["+5511988887777"],
      description: `Who sees it: people's phones or JIDs (\`@s.whatsapp.net\`, \`@lid\`; no groups), at most ${STATUS_AUDIENCE_MAX}. ${PHONE_RULE} Without it: the customers who talk to this number now (their conversations' number), the ${STATUS_AUDIENCE_MAX} most recently active. Opted-out, suppressed and blocked people are left out either way.`,
    }),
  reference: SendCommon.shape.reference,
});

/** Each type's own fields, by the type's name (the route's last segment). */
export const statusBodies = {
  text: z.object({
    body: z.string().min(1).max(STATUS_TEXT_MAX),
    background_color: z
      .string()
      .regex(STATUS_COLOR, "#RRGGBB or #AARRGGBB")
      .optional()
      .openapi({ example: "#25D366", description: "The background: `#RRGGBB`, or `#AARRGGBB` (ARGB, alpha first). WhatsApp's default without it." }),
    font: StatusFont.optional().openapi({ description: "The typeface, as WhatsApp names its status fonts (Baileys' FontType). `system` without it." }),
  }),
  image: z.object({ media: Media.openapi({ description: "The file as for `POST /messages/image`; `caption` shows under it." }) }),
  video: z.object({ media: Media.openapi({ description: "The file as for `POST /messages/video`; `caption` shows under it." }) }),
  audio: z.object({ media: Media.openapi({ description: "The file as for `POST /messages/audio` (`ptt: true` for a voice note); no caption." }) }),
} as const;

export type StatusType = keyof typeof statusBodies;
export const STATUS_TYPES = Object.keys(statusBodies) as StatusType[];

/** The body `POST /status/{type}` takes. */
export const statusBody = <T extends StatusType>(type: T) => StatusCommon.and(statusBodies[type]);
type StatusBody<T extends StatusType> = z.output<typeof StatusCommon> & z.output<(typeof statusBodies)[T]>;

/** One status post as the service takes it: a validated body and its type. */
export type StatusRequest<T extends StatusType = StatusType> = { [K in T]: { type: K } & StatusBody<K> }[T];

export const statusRequest = <T extends StatusType>(type: T, body: StatusBody<T>): StatusRequest<T> => ({ ...body, type });

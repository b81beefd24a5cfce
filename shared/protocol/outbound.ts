/**
 * What the edge asks a number to send, in our own terms; the fleet turns it
 * into Baileys content. Menus (buttons, lists) and OTPs are already text by
 * the time they get here. And what became of a sent message: its statuses.
 */
import { z } from "zod";

export const MediaType = z.enum(["image", "video", "document", "audio", "sticker"]);
export type MediaType = z.infer<typeof MediaType>;

/** Texts and captions: people mentioned (JIDs), or everyone in the group (`mention_all`, from its metadata at send time). */
const mentionFields = {
  mentions: z.array(z.string()).optional(),
  mention_all: z.boolean().optional(),
};

const mediaContent = <T extends MediaType>(type: T) =>
  z.object({
    type: z.literal(type),
    /** Fetch the bytes from the edge: `GET /fleet/media/{media_id}`. */
    media_id: z.string(),
    mimetype: z.string(),
    filename: z.string().nullable().default(null),
    caption: z.string().nullable().default(null),
    /** Audio only: send as a voice note. */
    ptt: z.boolean().default(false),
    ...mentionFields,
  });

export const OutboundContent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string(), ...mentionFields }),
  mediaContent("image"),
  mediaContent("video"),
  mediaContent("document"),
  mediaContent("audio"),
  mediaContent("sticker"),
  z.object({
    type: z.literal("location"),
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().nullable().default(null),
    address: z.string().nullable().default(null),
  }),
  z.object({ type: z.literal("contact"), display_name: z.string(), vcard: z.string() }),
  z.object({
    type: z.literal("reaction"),
    emoji: z.string(),
    /** The message reacted to. `from_me`: it was sent by this number. */
    target: z.object({ id: z.string(), from_me: z.boolean(), participant: z.string().nullable().default(null) }),
  }),
  z.object({
    type: z.literal("poll"),
    name: z.string(),
    options: z.array(z.string()).min(2).max(12),
    selectable_count: z.number().int().min(0),
  }),
]);
export type OutboundContent = z.infer<typeof OutboundContent>;

/**
 * The message a send replies to, so WhatsApp shows the quote: its id, who
 * wrote it (`from_me`: this number; `participant`: the author in a group),
 * and enough of its content (`type`, `body`) for the quote's preview.
 */
export const QuotedMessage = z.object({
  id: z.string().min(1),
  from_me: z.boolean(),
  participant: z.string().nullable().default(null),
  type: z.string(),
  body: z.string().nullable().default(null),
});
export type QuotedMessage = z.infer<typeof QuotedMessage>;

/**
 * A status (story): the fonts a text status may be written in, as Baileys'
 * `proto.Message.ExtendedTextMessage.FontType` names them (lowercased); the
 * fleet maps each to WhatsApp's number.
 */
export const StatusFont = z.enum([
  "system",
  "system_text",
  "fb_script",
  "system_bold",
  "morningbreeze_regular",
  "calistoga_regular",
  "exo2_extrabold",
  "courierprime_bold",
]);
export type StatusFont = z.infer<typeof StatusFont>;

/** `#RRGGBB`, or `#AARRGGBB` (alpha first, as WhatsApp's ARGB). */
export const STATUS_COLOR = /^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;

/**
 * A message to `status@broadcast` is a status post: who sees it (phone or
 * LID JIDs; WhatsApp encrypts it for each of their devices) and, for texts,
 * how it looks.
 */
export const StatusPost = z.object({
  audience: z.array(z.string()).min(1),
  background_color: z.string().regex(STATUS_COLOR).nullable().default(null),
  font: StatusFont.nullable().default(null),
});
export type StatusPost = z.infer<typeof StatusPost>;

export const STATUS_JID = "status@broadcast";

/** The messages WhatsApp lets their sender edit: texts, and the captions of images, videos and documents. */
export const EditableType = z.enum(["text", "image", "video", "document"]);
export type EditableType = z.infer<typeof EditableType>;

export const MessageStatus = z.enum(["queued", "sent", "delivered", "read", "played", "failed"]);
export type MessageStatus = z.infer<typeof MessageStatus>;

/** A receipt or server verdict on a message this number sent. */
export const MessageStatusEvent = z.object({
  wa_message_id: z.string(),
  chat_jid: z.string(),
  status: MessageStatus.exclude(["queued"]),
  /** For `failed`: the server's error code, e.g. "463". */
  error_code: z.string().nullable().default(null),
});
export type MessageStatusEvent = z.infer<typeof MessageStatusEvent>;

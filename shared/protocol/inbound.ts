/**
 * What a number received, as the fleet hands it to the edge: by link
 * (`message.received`, `lid.mappings`) or from its spool over HTTP.
 */
import { z } from "zod";

/** Types a received message can have (reference 002); anything else arrives as `unsupported`. */
export const InboundType = z.enum([
  "text",
  "image",
  "video",
  "audio",
  "document",
  "sticker",
  "location",
  "contact",
  "reaction",
  "poll",
  "poll_vote",
  "unsupported",
]);
export type InboundType = z.infer<typeof InboundType>;

/**
 * What an envelope of WhatsApp's (a protocol message with its own WhatsApp id)
 * does to a message received or sent earlier, named by `target_id`: the
 * customer, or this number's own phone app (`from_me`), edited it (`body`
 * is the new text or caption) or deleted it for everyone. Travels the
 * received messages' path and is kept once by its own id, but is never a
 * message itself.
 */
export const InboundChange = z.enum(["edit", "revoke"]);
export type InboundChange = z.infer<typeof InboundChange>;

/** A file received with a message, already in the private bucket (see `media.upload_url`). */
export const InboundMedia = z.object({
  media_id: z.string(),
  mime_type: z.string(),
  filename: z.string().nullable().default(null),
  size: z.number().int().min(0),
  /** Audio: a voice note. */
  ptt: z.boolean().default(false),
});
export type InboundMedia = z.infer<typeof InboundMedia>;

/**
 * One message a number received, as the fleet translated it from Baileys.
 * JIDs are as WhatsApp gave them: `chat_jid` may be an `@lid` with the phone
 * JID in `chat_jid_alt` (or the other way round); the edge picks the
 * canonical one. Poll votes arrive with the selected options' SHA-256 hashes
 * (hex), already decrypted; the edge names them from the stored poll.
 */
export const InboundMessage = z.object({
  wa_message_id: z.string().min(1),
  chat_jid: z.string().min(1),
  chat_jid_alt: z.string().nullable().default(null),
  /** Who wrote it: the chat itself for one-to-one chats, the participant in groups. */
  sender_jid: z.string().min(1),
  sender_jid_alt: z.string().nullable().default(null),
  push_name: z.string().nullable().default(null),
  /** Unix seconds, as WhatsApp stamped it. */
  timestamp: z.number().int(),
  /** Written by this number from another device (the phone app), not by the customer. */
  from_me: z.boolean().default(false),
  /** Delivered while the number was offline (Baileys `append`), or replayed after a restart. */
  offline: z.boolean().default(false),
  type: z.enum([...InboundType.options, ...InboundChange.options]),
  /** Text, caption, location name, contact name, reaction emoji, poll name; an edit's new text or caption. */
  body: z.string().nullable().default(null),
  /** An edit or a revoke: the WhatsApp id of the message it changes. */
  target_id: z.string().min(1).nullable().default(null),
  /** The WhatsApp id of the message this one replies or reacts to. */
  quoted_id: z.string().nullable().default(null),
  /** The people it mentions (JIDs as WhatsApp gave them: phone JIDs or LIDs). */
  mentions: z.array(z.string()).max(1024).default([]),
  media: InboundMedia.nullable().default(null),
  /** Set when the file could not be fetched from WhatsApp or stored: the message still arrives. */
  media_error: z.string().nullable().default(null),
  location: z
    .object({ latitude: z.number(), longitude: z.number(), name: z.string().nullable(), address: z.string().nullable() })
    .nullable()
    .default(null),
  contact: z.object({ display_name: z.string(), vcard: z.string() }).nullable().default(null),
  poll: z
    .object({ name: z.string(), options: z.array(z.string()), selectable_count: z.number().int().min(0) })
    .nullable()
    .default(null),
  poll_vote: z
    .object({ poll_message_id: z.string(), selected_hashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)) })
    .nullable()
    .default(null),
});
export type InboundMessage = z.infer<typeof InboundMessage>;

/** A LID and the phone JID behind it, as Baileys learned it. */
export const LidMapping = z.object({ lid: z.string().min(1), pn: z.string().min(1) });
export type LidMapping = z.infer<typeof LidMapping>;
/** The most pairs one `lid.mappings` event (or one spooled message) may carry. */
export const MAX_MAPPINGS_PER_EVENT = 500;

/**
 * fleet -> edge over HTTP (`POST /fleet/instances/{id}/received`, fleet
 * token): a received message from a fleet process's spool, with the LID
 * pairs it taught, for a process that holds no granted link to the number
 * (its lease moved, or it is draining). Answered like `message.received`.
 * The file ticket goes the same way: `POST /fleet/instances/{id}/media-upload-url`
 * with `media.upload_url`'s params.
 */
export const SpooledMessage = z.object({
  message: InboundMessage,
  mappings: z.array(LidMapping).max(MAX_MAPPINGS_PER_EVENT).default([]),
});
export type SpooledMessage = z.input<typeof SpooledMessage>;

/**
 * Someone called the number (Baileys' `call` event, status `offer`). `from`
 * is the caller as WhatsApp named them (a phone JID or a LID, with the phone
 * in `from_alt` when WhatsApp gave it); the edge picks the canonical one.
 */
export const IncomingCall = z.object({
  call_id: z.string().min(1).max(128),
  from: z.string().min(1),
  from_alt: z.string().nullable().default(null),
  video: z.boolean().default(false),
  group: z.boolean().default(false),
  /** A group call: the group's JID, when WhatsApp named it. */
  group_jid: z.string().nullable().default(null),
  /** Unix seconds, as WhatsApp stamped the offer. */
  timestamp: z.number().int(),
  /** Delivered while the number was offline: the call is over by now. */
  offline: z.boolean().default(false),
});
export type IncomingCall = z.infer<typeof IncomingCall>;

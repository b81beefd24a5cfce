/**
 * A stored message in reference 002's shape: the `payload` of message events
 * and each entry of a conversation's history. One function for both, so what
 * a webhook said and what the history shows never disagree.
 *
 * Received messages store the type's fields as 002 names them; our own sends
 * store the request (minus secrets: an OTP keeps only its masked code), which
 * is translated here.
 */
import { EditableType } from "../../shared/protocol.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { mediaLink } from "./media-links.ts";

/** What a received message stores in `content`. */
export type ReceivedContent = {
  body: string | null;
  /** Unix seconds, as WhatsApp stamped it. */
  timestamp: number;
  offline?: boolean;
  media?: { id: string; mime_type: string; filename: string | null; size: number; ptt: boolean };
  media_error?: string;
  location?: { latitude: number; longitude: number; name: string | null; address: string | null };
  contact?: { display_name: string; vcard: string };
  poll?: { name: string; options: string[]; selectable_count: number };
  poll_vote?: { poll_message_id: string; selected: string[] };
  /** Our id of the message it quotes (`quoted_id` is WhatsApp's), when we have that message. */
  quoted_message_id?: string;
  /** Who it mentions: phone JIDs, or LIDs whose phone is not known. */
  mentions?: string[];
};

type Fields = Record<string, unknown> & { body: string | null };

/** The type's own fields (body, media, location, ...) of a received message, with a fresh media link. */
async function receivedFields(env: Env, content: ReceivedContent): Promise<Fields> {
  const { body, timestamp, offline, media, media_error, location, contact, poll, poll_vote, mentions } = content;
  const fields: Fields = { body, timestamp };
  if (mentions?.length) fields.mentions = mentions;
  if (offline) fields.offline = true;
  if (media) {
    const { ptt, ...ref } = media;
    fields.media = { ...ref, url: await mediaLink(env, media.id), ...(ptt ? { ptt } : {}) };
  }
  if (media_error) fields.media_error = media_error;
  // 002 puts the coordinates at the top; the object keeps name and address together.
  if (location) Object.assign(fields, { latitude: location.latitude, longitude: location.longitude, location });
  if (contact) fields.contact = contact;
  if (poll) fields.poll = poll;
  if (poll_vote) fields.poll_vote = poll_vote;
  return fields;
}

/** Our own send's request, in 002's received shape. */
function sentFields(type: string, c: Record<string, any>): Fields {
  const fields = sentTypeFields(type, c);
  return Array.isArray(c.mentions) ? { ...fields, mentions: c.mentions } : fields;
}

function sentTypeFields(type: string, c: Record<string, any>): Fields {
  switch (type) {
    case "text":
      return { body: c.body ?? null };
    case "image":
    case "video":
    case "audio":
    case "document":
    case "sticker": {
      const m = c.media ?? {};
      // Our own files are the client's to keep: described, not linked.
      const media = { mime_type: m.mimetype, filename: m.filename ?? null, size: m.size, ...(m.ptt ? { ptt: true } : {}) };
      return { body: m.caption ?? null, media };
    }
    case "location":
      return {
        body: c.name ?? null,
        latitude: c.latitude,
        longitude: c.longitude,
        location: { latitude: c.latitude, longitude: c.longitude, name: c.name ?? null, address: c.address ?? null },
      };
    case "contact":
      return { body: c.contact_name ?? null, contact: { display_name: c.contact_name, vcard: c.contact_vcard } };
    case "reaction":
      return { body: c.emoji ?? null };
    case "poll":
      return { body: c.name ?? null, poll: { name: c.name, options: c.options, selectable_count: c.selectable_count } };
    case "buttons":
    case "list":
      // What the customer saw: the numbered text menu.
      return { body: c.text ?? c.body ?? null };
    case "otp":
      return { body: c.body ?? null, code_masked: c.code_masked };
    default:
      return { body: c.body ?? null };
  }
}

/** The text a person sees of a message: a text's body, a caption, a location's or card's name. */
export const bodyOf = (row: MessageRow): string | null =>
  isReceivedShape(row) ? ((row.content as ReceivedContent).body ?? null) : sentFields(row.type, row.content as Record<string, any>).body;

/**
 * The message's `content` with its body (a text, a caption) replaced: what
 * an edit stores. Null for a type whose body WhatsApp does not let its
 * author edit.
 */
export function contentWithBody(row: MessageRow, body: string): Record<string, unknown> | null {
  if (!EditableType.safeParse(row.type).success) return null;
  const content = row.content as Record<string, any>;
  if (isReceivedShape(row) || row.type === "text") return { ...content, body };
  // Our media sends keep the caption with the file's description.
  return { ...content, media: { ...content.media, caption: body } };
}

/**
 * What a received message keeps once its sender deleted it for everyone:
 * when it arrived and where it sat in the chat, nothing of what it said
 * (body, file, place, card, poll, vote, mentions).
 */
export function tombstone(content: ReceivedContent): ReceivedContent {
  const { timestamp, offline, quoted_message_id } = content;
  return { body: null, timestamp, ...(offline ? { offline } : {}), ...(quoted_message_id ? { quoted_message_id } : {}) };
}

/** Whether `content` is a received message's (ours store the request; phone-app messages store what WhatsApp gave). */
const isReceivedShape = (row: MessageRow) => row.direction === "inbound" || row.from_me;

/**
 * The 002 fields of a message: `type`, `from` (received) or `to` (sent),
 * `body`, `quoted_id` (WhatsApp's) and `quoted_message_id` (ours, when we
 * have that message) when it replies or reacts, and the type's own fields.
 */
export async function messageFields(env: Env, row: MessageRow): Promise<Fields & { type: string }> {
  const content = row.content as Record<string, any>;
  const fields = isReceivedShape(row) ? await receivedFields(env, content as ReceivedContent) : sentFields(row.type, content);
  // Reactions stored before replies existed kept the client's WhatsApp id under this name.
  const ours = typeof content.quoted_message_id === "string" && content.quoted_message_id !== row.quoted_id ? content.quoted_message_id : null;
  return {
    type: row.type,
    ...(row.direction === "inbound" ? { from: row.chat_jid } : { to: row.chat_jid }),
    ...fields,
    ...(row.quoted_id ? { quoted_id: row.quoted_id } : {}),
    ...(ours ? { quoted_message_id: ours } : {}),
  };
}

/** The WhatsApp ids of a send are WhatsApp's only once it left. */
export const waIdOf = (row: MessageRow) =>
  row.direction === "outbound" && row.sent_at === null && (row.status === "queued" || row.status === "failed") ? null : row.wa_message_id;

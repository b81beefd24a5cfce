/**
 * Outbound messages: our wire content -> Baileys content, and Baileys' answer
 * -> the `message.send` result.
 *
 * Pure: the sender (outbound-sender.ts) does the sending and the fetching
 * (outbound-media.ts); these functions decide what is sent and how a failure
 * is reported to the edge.
 *
 * Message contents never reach a log line from here: OTP codes travel as
 * plain text messages. Errors name ids and types, never texts.
 */
import {
  type AnyMessageContent,
  BufferJSON,
  type WAMessage,
  type WAPresence,
  isJidGroup,
  jidDecode,
  proto,
  toNumber,
} from "@whiskeysockets/baileys";
import {
  type EditableType,
  type OutboundContent,
  ProtocolError,
  type QuotedMessage,
  type Result,
  STATUS_JID,
  StatusFont,
  type StatusPost,
} from "../shared/protocol.ts";
import { errorText } from "./errors.ts";
import type { FetchMedia } from "./outbound-media.ts";

export type ContentContext = {
  /** The chat the message goes to; reactions point at a message in it. */
  chatJid: string;
  fetchMedia: FetchMedia;
  /**
   * Polls: the secret votes are encrypted with. Derived from the message id
   * (not random) so that a retried send is the very same poll.
   */
  pollSecret: () => Uint8Array;
  /** Mentioning everyone: the group's participants, from its metadata. */
  groupMembers?: () => Promise<string[]>;
};

/** Servers a message can go to: people (phone or LID), groups, channels. */
const SENDABLE_SERVERS = new Set(["s.whatsapp.net", "lid", "g.us", "newsletter"]);

export function assertSendableJid(jid: string): void {
  const decoded = jidDecode(jid);
  if (!decoded?.user || !SENDABLE_SERVERS.has(decoded.server)) {
    throw new ProtocolError("invalid_content", "chat_jid is not a WhatsApp user, group or channel JID");
  }
}

/** People a status can be shown to: phone or LID JIDs. */
const AUDIENCE_SERVERS = new Set(["s.whatsapp.net", "lid"]);

/** WhatsApp's number for each font we name (Baileys' FontType, by name). */
export const STATUS_FONTS: Record<StatusFont, proto.Message.ExtendedTextMessage.FontType> = Object.fromEntries(
  StatusFont.options.map(
    (name) => [name, proto.Message.ExtendedTextMessage.FontType[name.toUpperCase() as keyof typeof proto.Message.ExtendedTextMessage.FontType]],
  ),
) as Record<StatusFont, proto.Message.ExtendedTextMessage.FontType>;

/**
 * The `sendMessage` options that make a message a status post: Baileys'
 * relayMessage sends `status@broadcast` as a group message, encrypted with
 * a sender key distributed to each device of `statusJidList`. Colour and
 * font apply to texts (Baileys puts them on the extendedTextMessage).
 */
export function statusOptions(chatJid: string, status: StatusPost): { statusJidList: string[]; backgroundColor?: string; font?: number } {
  if (chatJid !== STATUS_JID) throw new ProtocolError("invalid_content", "a status post goes to status@broadcast");
  for (const jid of status.audience) {
    const decoded = jidDecode(jid);
    if (!decoded?.user || !AUDIENCE_SERVERS.has(decoded.server)) throw new ProtocolError("invalid_content", "a status audience holds people's JIDs only");
  }
  return {
    statusJidList: status.audience,
    ...(status.background_color ? { backgroundColor: status.background_color } : {}),
    ...(status.font ? { font: STATUS_FONTS[status.font] } : {}),
  };
}

/**
 * Maps our content to what `sock.sendMessage` takes. Media bytes are fetched
 * here (a missing file is `media_unavailable`); malformed content that
 * WhatsApp would refuse is `invalid_content`, before anything is sent.
 */
export async function toBaileysContent(content: OutboundContent, ctx: ContentContext): Promise<AnyMessageContent> {
  switch (content.type) {
    case "text":
      if (!content.text.trim()) throw new ProtocolError("invalid_content", "text is empty");
      // No link previews: building one means the fleet fetching whatever URL the text contains.
      return { text: content.text, linkPreview: null, ...(await mentions(content, ctx)) };
    case "image":
      return { image: await ctx.fetchMedia(content.media_id), mimetype: content.mimetype, ...caption(content.caption), ...(await mentions(content, ctx)) };
    case "video":
      return { video: await ctx.fetchMedia(content.media_id), mimetype: content.mimetype, ...caption(content.caption), ...(await mentions(content, ctx)) };
    case "document":
      return {
        document: await ctx.fetchMedia(content.media_id),
        mimetype: content.mimetype,
        ...(content.filename ? { fileName: content.filename } : {}),
        ...caption(content.caption),
        ...(await mentions(content, ctx)),
      };
    case "audio":
      return { audio: await ctx.fetchMedia(content.media_id), mimetype: content.mimetype, ptt: content.ptt };
    case "sticker":
      return { sticker: await ctx.fetchMedia(content.media_id), mimetype: content.mimetype };
    case "location":
      if (!isLatitude(content.latitude) || !isLongitude(content.longitude)) {
        throw new ProtocolError("invalid_content", "latitude must be within ±90 and longitude within ±180");
      }
      return {
        location: {
          degreesLatitude: content.latitude,
          degreesLongitude: content.longitude,
          ...(content.name ? { name: content.name } : {}),
          ...(content.address ? { address: content.address } : {}),
        },
      };
    case "contact":
      if (!content.display_name.trim()) throw new ProtocolError("invalid_content", "contact display_name is empty");
      if (!isVcard(content.vcard)) throw new ProtocolError("invalid_content", "contact vcard is not a BEGIN:VCARD ... END:VCARD card");
      return { contacts: { displayName: content.display_name, contacts: [{ displayName: content.display_name, vcard: content.vcard }] } };
    case "reaction":
      if (!content.target.id) throw new ProtocolError("invalid_content", "reaction target id is empty");
      return {
        react: {
          // An empty emoji takes a reaction back, as in WhatsApp itself.
          text: content.emoji,
          key: {
            remoteJid: ctx.chatJid,
            id: content.target.id,
            fromMe: content.target.from_me,
            ...(content.target.participant ? { participant: content.target.participant } : {}),
          },
        },
      };
    case "poll": {
      const names = content.options.map((option) => option.trim());
      if (!content.name.trim() || names.some((name) => !name)) throw new ProtocolError("invalid_content", "poll name and options must not be empty");
      // Votes come back as hashes of the option names: two equal names could not be told apart.
      if (new Set(names).size !== names.length) throw new ProtocolError("invalid_content", "poll options must be distinct");
      if (content.selectable_count > content.options.length) {
        throw new ProtocolError("invalid_content", "poll selectable_count is larger than the number of options");
      }
      return {
        poll: {
          name: content.name,
          values: content.options,
          selectableCount: content.selectable_count,
          messageSecret: ctx.pollSecret(),
        },
      };
    }
  }
}

/**
 * Baileys' `quoted` option for a reply: the original's key and enough of its
 * content for the recipient's app to draw the quote (a photo shows as one,
 * with its caption), which Baileys puts in `contextInfo` with the stanza id.
 */
export function quotedFor(quoted: QuotedMessage, chatJid: string): WAMessage {
  const body = quoted.body ?? "";
  const caption = body ? { caption: body } : {};
  const message: proto.IMessage = (() => {
    switch (quoted.type) {
      case "image":
        return { imageMessage: caption };
      case "video":
        return { videoMessage: caption };
      case "document":
        return { documentMessage: caption };
      case "audio":
        return { audioMessage: {} };
      case "sticker":
        return { stickerMessage: {} };
      case "location":
        return { locationMessage: body ? { name: body } : {} };
      case "contact":
        return { contactMessage: { displayName: body } };
      case "poll":
        return { pollCreationMessage: { name: body } };
      default:
        return { conversation: body };
    }
  })();
  return {
    key: {
      remoteJid: chatJid,
      id: quoted.id,
      fromMe: quoted.from_me,
      ...(quoted.participant ? { participant: quoted.participant } : {}),
    },
    message,
  };
}

/** The key of a message this number sent, as edits and revokes name it. */
export function ownKey(chatJid: string, id: string): proto.IMessageKey {
  return { remoteJid: chatJid, fromMe: true, id };
}

/**
 * The edit of one of our messages to `text`, as WhatsApp takes it: a
 * protocol message naming the original, carrying the new content in the
 * original's own type. A caption goes in the media type's message (a plain
 * text there would blank the caption on the phone, as whatsmeow#684 found),
 * without the file: only the caption changes.
 */
export function editMessage(chatJid: string, id: string, type: EditableType, text: string, nowMs = Date.now()): proto.IMessage {
  if (!text.trim()) throw new ProtocolError("invalid_content", "text is empty");
  const edited: proto.IMessage = (() => {
    switch (type) {
      case "text":
        // As Baileys builds a text (`{ text }`), so the edit replaces what it sent.
        return { extendedTextMessage: { text } };
      case "image":
        return { imageMessage: { caption: text } };
      case "video":
        return { videoMessage: { caption: text } };
      case "document":
        return { documentMessage: { caption: text } };
    }
  })();
  return {
    protocolMessage: {
      key: ownKey(chatJid, id),
      type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
      editedMessage: edited,
      timestampMs: nowMs,
    },
  };
}

/** What "typing..." to show before a message: texts are typed, voice notes recorded, the rest just arrives. */
export function presenceFor(content: OutboundContent): WAPresence | null {
  if (content.type === "text") return "composing";
  if (content.type === "audio" && content.ptt) return "recording";
  return null;
}

/** The `message.send` result for the message Baileys sent. */
export function sendResult(sent: WAMessage | undefined, waMessageId: string, nowMs = Date.now()): Result<"message.send"> {
  const stamped = toNumber(sent?.messageTimestamp as number | null | undefined);
  const timestamp = stamped > 0 ? stamped : Math.floor(nowMs / 1000);
  const secret = sent?.message?.messageContextInfo?.messageSecret;
  const isPoll = Boolean(
    sent?.message?.pollCreationMessage || sent?.message?.pollCreationMessageV2 || sent?.message?.pollCreationMessageV3,
  );
  return {
    wa_message_id: sent?.key?.id ?? waMessageId,
    timestamp,
    message_secret: isPoll && secret ? Buffer.from(secret).toString("base64") : null,
    poll_message: isPoll && sent?.message ? JSON.stringify(sent.message, BufferJSON.replacer) : null,
  };
}

/**
 * A send failure as the edge should see it: `not_connected` (the socket went
 * away: wait for it), `invalid_content` (WhatsApp/Baileys refuses this
 * content: retrying cannot help), `send_failed` (anything else: retry).
 */
export function classifySendError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  const boom = err as { isBoom?: boolean; output?: { statusCode?: number }; message?: string };
  const status = boom?.isBoom ? boom.output?.statusCode : undefined;
  const message = errorText(err);
  // 428 is Baileys' "Connection Closed": the frame could not be written.
  if (status === 428 || /connection (closed|was lost|terminated)/i.test(message)) {
    return new ProtocolError("not_connected", "the WhatsApp socket closed during the send");
  }
  // Baileys validates content with 400 Booms (e.g. a poll it cannot build).
  if (status === 400) return new ProtocolError("invalid_content", message);
  return new ProtocolError("send_failed", message);
}

/** Baileys' `mentions` (into contextInfo.mentionedJid, which is what notifies people): the JIDs given, or every participant. */
async function mentions(content: { mentions?: string[]; mention_all?: boolean }, ctx: ContentContext): Promise<{ mentions?: string[] }> {
  if (content.mention_all) {
    if (!isJidGroup(ctx.chatJid) || !ctx.groupMembers) throw new ProtocolError("invalid_content", "mention_all needs a group chat");
    return { mentions: await ctx.groupMembers() };
  }
  return content.mentions?.length ? { mentions: content.mentions } : {};
}

function caption(text: string | null): { caption?: string } {
  return text ? { caption: text } : {};
}

function isLatitude(value: number): boolean {
  return Number.isFinite(value) && Math.abs(value) <= 90;
}

function isLongitude(value: number): boolean {
  return Number.isFinite(value) && Math.abs(value) <= 180;
}

function isVcard(text: string): boolean {
  return /^\s*BEGIN:VCARD\r?\n[\s\S]*\r?\nEND:VCARD\s*$/i.test(text);
}

/**
 * Received messages: one Baileys `messages.upsert` entry -> our
 * `InboundMessage`, or the reason it is not one.
 *
 * Edits and deletes for everyone arrive as envelopes of their own: a
 * `protocolMessage` (MESSAGE_EDIT with the new content in `editedMessage`,
 * or REVOKE) whose `key` names the message it changes. Baileys reports them
 * again as `messages.update` once it has processed them, but only the
 * envelope passes the spool's hook before WhatsApp gets its receipt, so the
 * envelope is what we translate: an `edit` or `revoke` with `target_id`,
 * kept once by the envelope's own id like any received message.
 *
 * Pure: downloading media and decrypting poll votes need the socket and the
 * edge, so the translation only says what to fetch (`media`) or decrypt
 * (`vote`) and the receiver does it. Nothing here logs, and callers log ids
 * and types only: a text may be an OTP code or anything private.
 */
import {
  type WAMessage,
  type WAMessageKey,
  areJidsSameUser,
  getContentType,
  isJidBroadcast,
  isJidGroup,
  isJidNewsletter,
  isJidStatusBroadcast,
  jidNormalizedUser,
  normalizeMessageContent,
  proto,
  toNumber,
} from "@whiskeysockets/baileys";
import type { InboundMessage } from "../shared/protocol.ts";

/** This number's own identities, as the socket knows them (`sock.user`). */
export type Self = { jid: string | null; lid: string | null };

export type InboundContext = {
  self: Self;
  /** The upsert was an `append`: delivered while the number was offline. */
  offline: boolean;
  /** True for ids this socket sent through the API: Baileys echoes those back as `append` upserts. */
  sentByUs(waMessageId: string): boolean;
  nowMs?: number;
};

export type MediaType = "image" | "video" | "audio" | "document" | "sticker";

/** A file to fetch from WhatsApp for the message. */
export type MediaRequest = {
  type: MediaType;
  mime_type: string;
  filename: string | null;
  ptt: boolean;
  /** The size the sender declared; the download is the truth. */
  declared_size: number | null;
};

/** A poll vote as it arrives: encrypted with the poll's secret. */
export type EncryptedVote = { poll_message_id: string; enc_payload: Uint8Array; enc_iv: Uint8Array };

export type SkipReason =
  /** No chat or id: nothing a message could be stored under. */
  | "no_key"
  | "status"
  | "newsletter"
  /** A broadcast list this number wrote to from the phone: no single chat to put it in. */
  | "own_broadcast"
  | "sent_by_us"
  /** Ephemeral settings, history sync notices, key shares; an edit or revoke naming no message, an edit without text. */
  | "protocol"
  /** Only a group key distribution or context info: transport, not a message. */
  | "housekeeping"
  /** A stub without content, e.g. a group notification. */
  | "stub"
  /** Nothing could be decrypted (Baileys keeps a CIPHERTEXT stub). */
  | "undecryptable";

export type Translated =
  | { skip: SkipReason; key: WAMessageKey }
  | { message: InboundMessage; media: MediaRequest | null; vote: EncryptedVote | null };

const MEDIA: Record<string, { type: MediaType; mime: string }> = {
  imageMessage: { type: "image", mime: "image/jpeg" },
  videoMessage: { type: "video", mime: "video/mp4" },
  ptvMessage: { type: "video", mime: "video/mp4" },
  audioMessage: { type: "audio", mime: "audio/ogg; codecs=opus" },
  documentMessage: { type: "document", mime: "application/octet-stream" },
  stickerMessage: { type: "sticker", mime: "image/webp" },
};

const POLLS = new Set(["pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3", "pollCreationMessageV5"]);

export function translateInbound(msg: WAMessage, ctx: InboundContext): Translated {
  const key = msg.key;
  const remote = key.remoteJid;
  if (!remote || !key.id) return { skip: "no_key", key };
  if (isJidStatusBroadcast(remote)) return { skip: "status", key };
  if (isJidNewsletter(remote)) return { skip: "newsletter", key };
  const fromMe = Boolean(key.fromMe);
  if (fromMe && ctx.sentByUs(key.id)) return { skip: "sent_by_us", key };

  const ids = identities(key, ctx.self);
  if (ids === "own_broadcast") return { skip: "own_broadcast", key };
  if (!ids) return { skip: "no_key", key };

  let content = normalizeMessageContent(msg.message);
  // A V4 poll is a future-proof wrapper that normalizeMessageContent does not open.
  if (content?.pollCreationMessageV4?.message) content = normalizeMessageContent(content.pollCreationMessageV4.message);
  if (!content) {
    if (msg.messageStubType === proto.WebMessageInfo.StubType.CIPHERTEXT) return { skip: "undecryptable", key };
    return { skip: msg.messageStubType ? "stub" : "undecryptable", key };
  }
  const kind = getContentType(content);
  if (!kind) {
    return { skip: content.senderKeyDistributionMessage || content.messageContextInfo ? "housekeeping" : "undecryptable", key };
  }

  const base: InboundMessage = {
    wa_message_id: key.id,
    ...ids,
    push_name: msg.pushName || null,
    timestamp: timestampOf(msg, ctx.nowMs ?? Date.now()),
    from_me: fromMe,
    offline: ctx.offline,
    type: "unsupported",
    body: null,
    quoted_id: quotedId(content, kind),
    mentions: mentionedJids(content, kind),
    media: null,
    media_error: null,
    location: null,
    contact: null,
    poll: null,
    poll_vote: null,
    target_id: null,
  };
  const typed = (type: InboundMessage["type"], fields: Partial<InboundMessage> = {}): Translated => ({
    message: { ...base, type, ...fields },
    media: null,
    vote: null,
  });

  if (content.protocolMessage) {
    const change = changeOf(content.protocolMessage);
    return change ? typed(change.type, change) : { skip: "protocol", key };
  }
  const media = MEDIA[kind];
  if (media) {
    const inner = content[kind as keyof proto.IMessage] as proto.Message.IImageMessage &
      proto.Message.IDocumentMessage &
      proto.Message.IAudioMessage;
    const declared = toNumber(inner.fileLength as number | null | undefined);
    return {
      message: { ...base, type: media.type, body: inner.caption || null },
      media: {
        type: media.type,
        mime_type: inner.mimetype || media.mime,
        filename: inner.fileName || null,
        ptt: media.type === "audio" && Boolean(inner.ptt),
        declared_size: declared > 0 ? declared : null,
      },
      vote: null,
    };
  }
  if (POLLS.has(kind)) {
    const poll = content[kind as keyof proto.IMessage] as proto.Message.IPollCreationMessage;
    const name = poll.name ?? "";
    return typed("poll", {
      body: name,
      poll: {
        name,
        options: (poll.options ?? []).map((option) => option.optionName ?? ""),
        selectable_count: Math.max(0, poll.selectableOptionsCount ?? 0),
      },
    });
  }
  switch (kind) {
    case "conversation":
      return typed("text", { body: content.conversation ?? "" });
    case "extendedTextMessage":
      return typed("text", { body: content.extendedTextMessage?.text ?? "" });
    case "locationMessage":
    case "liveLocationMessage": {
      const place = content.locationMessage;
      const live = content.liveLocationMessage;
      const name = place?.name || live?.caption || null;
      return typed("location", {
        body: name,
        location: {
          latitude: (place ?? live)?.degreesLatitude ?? 0,
          longitude: (place ?? live)?.degreesLongitude ?? 0,
          name,
          address: place?.address || null,
        },
      });
    }
    case "contactMessage": {
      const card = content.contactMessage!;
      const name = card.displayName ?? "";
      return typed("contact", { body: name, contact: { display_name: name, vcard: card.vcard ?? "" } });
    }
    case "contactsArrayMessage": {
      // Several cards in one message: one vCard file holds them all, one after another.
      const cards = content.contactsArrayMessage!.contacts ?? [];
      const name = content.contactsArrayMessage!.displayName || cards[0]?.displayName || "";
      const vcard = cards.map((card) => card.vcard ?? "").filter(Boolean).join("\n");
      return typed("contact", { body: name, contact: { display_name: name, vcard } });
    }
    case "reactionMessage": {
      // An empty emoji takes the reaction back: still news for the customer's system.
      const reaction = content.reactionMessage!;
      return typed("reaction", { body: reaction.text ?? "", quoted_id: reaction.key?.id || null });
    }
    case "pollUpdateMessage": {
      const update = content.pollUpdateMessage!;
      const pollId = update.pollCreationMessageKey?.id;
      const vote = update.vote;
      const message = { ...base, type: "poll_vote" as const, quoted_id: pollId || null };
      if (!pollId || !vote?.encPayload || !vote.encIv) return { message, media: null, vote: null };
      return { message, media: null, vote: { poll_message_id: pollId, enc_payload: vote.encPayload, enc_iv: vote.encIv } };
    }
    default:
      return typed("unsupported");
  }
}

/** An edit or a revoke of an earlier message, or null for any other protocol message (or one naming no message). */
function changeOf(protocol: proto.Message.IProtocolMessage): Pick<InboundMessage, "type" | "target_id" | "body"> | null {
  const target = protocol.key?.id;
  if (!target) return null;
  const Type = proto.Message.ProtocolMessage.Type;
  if (protocol.type === Type.REVOKE) return { type: "revoke", target_id: target, body: null };
  if (protocol.type !== Type.MESSAGE_EDIT) return null;
  const body = editableText(normalizeMessageContent(protocol.editedMessage));
  return body === null ? null : { type: "edit", target_id: target, body };
}

/** The text of edited content: WhatsApp edits texts and captions only. */
function editableText(content: proto.IMessage | undefined): string | null {
  if (!content) return null;
  if (typeof content.conversation === "string") return content.conversation;
  const text = content.extendedTextMessage?.text;
  if (typeof text === "string") return text;
  const captioned = content.imageMessage ?? content.videoMessage ?? content.documentMessage;
  return captioned ? (captioned.caption ?? "") : null;
}

type Identities = Pick<InboundMessage, "chat_jid" | "chat_jid_alt" | "sender_jid" | "sender_jid_alt">;

/**
 * Who the chat is and who wrote: the chat is the customer (or the group);
 * the sender is the customer in one-to-one chats, the participant in groups,
 * and this number itself for messages written on the phone app.
 */
function identities(key: WAMessageKey, self: Self): Identities | "own_broadcast" | null {
  const remote = key.remoteJid!;
  const fromMe = Boolean(key.fromMe);
  const ownJid = normalized(self.jid);
  const ownLid = normalized(self.lid);
  // For our own messages WhatsApp's "sender" alternative is us, not the customer: never pair the chat with it.
  const notSelf = (jid: string | null) => (jid && fromMe && isSelf(jid, self) ? null : jid);

  if (isJidGroup(remote)) {
    const sender = normalized(key.participant) ?? (fromMe ? ownJid : null);
    if (!sender) return null;
    const senderAlt = normalized(key.participantAlt) ?? (fromMe && sender === ownJid ? ownLid : null);
    return { chat_jid: remote, chat_jid_alt: null, sender_jid: sender, sender_jid_alt: senderAlt };
  }
  if (isJidBroadcast(remote)) {
    // A customer's broadcast list reaches us as their message; their chat is the one it belongs in.
    if (fromMe) return "own_broadcast";
    const sender = normalized(key.participant);
    if (!sender) return null;
    const senderAlt = normalized(key.participantAlt);
    return { chat_jid: sender, chat_jid_alt: senderAlt, sender_jid: sender, sender_jid_alt: senderAlt };
  }
  const chat = normalized(remote)!;
  const chatAlt = notSelf(normalized(key.remoteJidAlt));
  if (fromMe) {
    return { chat_jid: chat, chat_jid_alt: chatAlt, sender_jid: ownJid ?? chat, sender_jid_alt: ownJid ? ownLid : chatAlt };
  }
  return { chat_jid: chat, chat_jid_alt: chatAlt, sender_jid: chat, sender_jid_alt: chatAlt };
}

export function isSelf(jid: string, self: Self): boolean {
  return Boolean((self.jid && areJidsSameUser(jid, self.jid)) || (self.lid && areJidsSameUser(jid, self.lid)));
}

/** A user JID without its device part (`5511...:12@s.whatsapp.net` -> `5511...@s.whatsapp.net`). */
export function normalized(jid: string | null | undefined): string | null {
  if (!jid) return null;
  return jidNormalizedUser(jid) || null;
}

function timestampOf(msg: WAMessage, nowMs: number): number {
  const stamped = toNumber(msg.messageTimestamp as number | null | undefined);
  return Number.isFinite(stamped) && stamped > 0 ? Math.floor(stamped) : Math.floor(nowMs / 1000);
}

/** Every content type carries its replies and mentions in its own contextInfo. */
function contextOf(content: proto.IMessage, kind: string): proto.IContextInfo | null {
  const inner = content[kind as keyof proto.IMessage] as { contextInfo?: proto.IContextInfo | null } | string | null | undefined;
  if (!inner || typeof inner !== "object") return null;
  return inner.contextInfo ?? null;
}

/** The message a reply quotes. */
function quotedId(content: proto.IMessage, kind: string): string | null {
  return contextOf(content, kind)?.stanzaId || null;
}

/** Who it mentions, by JID (reference 003: mentions are JIDs, never text), without device parts. */
function mentionedJids(content: proto.IMessage, kind: string): string[] {
  const jids = (contextOf(content, kind)?.mentionedJid ?? []).map(normalized).filter((jid): jid is string => jid !== null);
  return [...new Set(jids)];
}

/**
 * The test peer's accepted-send records -> `proto.Message`, and a plain
 * summary of each for assertions ("a poll named X with options Y arrived").
 *
 * A record (one JSON line of the recorder, or the event given to `onEvent`)
 * is `accepted: true` once the peer decrypted a message we sent. The patched
 * peer stores the decrypted bytes as `plaintext` (base64 of a
 * `proto.Message`, random padding removed) for every type; the stock peer
 * kept only plain text (`body.message.conversation`), which is still read.
 * Edits and deletes for everyone are protocol messages naming their target;
 * they summarize as `edit` (with what it became) and `revoke`.
 */
import { readFileSync } from "node:fs";
import { proto } from "@whiskeysockets/baileys";

export type AcceptedMessage = {
  /** The WhatsApp message id the sender chose. */
  id: string;
  /** The chat it was sent to. */
  to: string;
  /** When the peer accepted it (ISO time). */
  at: string;
  message: proto.Message;
};

type RecordLike = {
  accepted?: unknown;
  at?: unknown;
  plaintext?: unknown;
  body?: unknown;
};

/** The decoded message of one recorder record, or null if the record is not an accepted send. */
export function acceptedFromRecord(record: unknown): AcceptedMessage | null {
  const r = record as RecordLike;
  if (!r || r.accepted !== true) return null;
  const body = r.body as {
    key?: { id?: string; remoteJid?: string };
    message?: { conversation?: string };
    attrs?: { id?: string; to?: string };
  };
  const id = body?.key?.id ?? body?.attrs?.id;
  const to = body?.key?.remoteJid ?? body?.attrs?.to;
  if (!id || !to) return null;
  let message: proto.Message;
  if (typeof r.plaintext === "string") {
    message = proto.Message.decode(Buffer.from(r.plaintext, "base64"));
  } else if (typeof body?.message?.conversation === "string") {
    message = proto.Message.create({ conversation: body.message.conversation });
  } else {
    throw new Error(`accepted record ${id} has no plaintext: is patches/@openclaw+crabline+0.1.27.patch applied (npm install)?`);
  }
  return { id, to, at: typeof r.at === "string" ? r.at : "", message };
}

/** Every accepted send in a recorder file (JSONL), decoded, in order. */
export function readAccepted(recorderPath: string): AcceptedMessage[] {
  return readFileSync(recorderPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => acceptedFromRecord(JSON.parse(line)))
    .filter((m): m is AcceptedMessage => m !== null);
}

export type MessageSummary =
  | { type: "text"; text: string }
  | { type: "location"; latitude: number; longitude: number; name: string | null; address: string | null }
  | { type: "contact"; display_name: string; vcard: string }
  | { type: "reaction"; emoji: string; target: { id: string; from_me: boolean; remote_jid: string; participant: string | null } }
  | { type: "poll"; name: string; options: string[]; selectable_count: number; message_secret: string | null }
  | { type: "image" | "video" | "document" | "audio" | "sticker"; mimetype: string | null; caption: string | null; ptt: boolean }
  /** An edit of the message `target` (its key's id; `from_me`: the sender's own), to `edited`. */
  | { type: "edit"; target: { id: string; from_me: boolean; remote_jid: string }; edited: MessageSummary }
  /** A delete for everyone of the message `target`. */
  | { type: "revoke"; target: { id: string; from_me: boolean; remote_jid: string } }
  | { type: "other"; keys: string[] };

/** What a person would see of a message, in our own terms. */
export function summarize(input: proto.IMessage): MessageSummary {
  // Copies a sender keeps for its own other devices wrap the real message.
  const m = input.deviceSentMessage?.message ?? input;
  if (m.conversation) return { type: "text", text: m.conversation };
  const protocol = m.protocolMessage;
  if (protocol?.key) {
    const target = { id: protocol.key.id ?? "", from_me: protocol.key.fromMe === true, remote_jid: protocol.key.remoteJid ?? "" };
    const type = protocol.type ?? proto.Message.ProtocolMessage.Type.REVOKE; // REVOKE is 0, proto's default
    if (type === proto.Message.ProtocolMessage.Type.MESSAGE_EDIT && protocol.editedMessage) {
      return { type: "edit", target, edited: summarize(protocol.editedMessage) };
    }
    if (type === proto.Message.ProtocolMessage.Type.REVOKE) return { type: "revoke", target };
  }
  if (m.extendedTextMessage?.text) return { type: "text", text: m.extendedTextMessage.text };
  if (m.locationMessage) {
    const l = m.locationMessage;
    return { type: "location", latitude: l.degreesLatitude ?? 0, longitude: l.degreesLongitude ?? 0, name: l.name ?? null, address: l.address ?? null };
  }
  if (m.contactMessage) return { type: "contact", display_name: m.contactMessage.displayName ?? "", vcard: m.contactMessage.vcard ?? "" };
  if (m.reactionMessage) {
    const key = m.reactionMessage.key ?? {};
    return {
      type: "reaction",
      emoji: m.reactionMessage.text ?? "",
      target: { id: key.id ?? "", from_me: key.fromMe === true, remote_jid: key.remoteJid ?? "", participant: key.participant ?? null },
    };
  }
  const poll = m.pollCreationMessageV3 ?? m.pollCreationMessage ?? m.pollCreationMessageV2;
  if (poll) {
    const secret = m.messageContextInfo?.messageSecret;
    return {
      type: "poll",
      name: poll.name ?? "",
      options: (poll.options ?? []).map((o) => o.optionName ?? ""),
      selectable_count: poll.selectableOptionsCount ?? 0,
      message_secret: secret?.length ? Buffer.from(secret).toString("base64") : null,
    };
  }
  const media: [MessageSummary["type"], { mimetype?: string | null; caption?: string | null; ptt?: boolean | null } | null | undefined][] = [
    ["image", m.imageMessage],
    ["video", m.videoMessage],
    ["document", m.documentMessage],
    ["audio", m.audioMessage],
    ["sticker", m.stickerMessage],
  ];
  for (const [type, value] of media) {
    if (value) {
      return {
        type: type as "image",
        mimetype: value.mimetype ?? null,
        caption: value.caption ?? null,
        ptt: value.ptt === true,
      };
    }
  }
  return { type: "other", keys: Object.keys(proto.Message.toObject(proto.Message.fromObject(m))) };
}

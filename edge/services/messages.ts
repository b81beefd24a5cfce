/**
 * Accepting a message: everything a client can get wrong is checked first
 * (4xx), then the message is stored in D1 and queued on its number's Durable
 * Object, and only then answered 202. From there it is never lost: it is
 * sent, or it fails with a reason the client can read.
 */
import type { OutboundContent } from "../../shared/protocol.ts";
import { newId, seal } from "../crypto.ts";
import { db } from "../db/client.ts";
import { findInstance } from "../db/instances.ts";
import { findMessage, keyedSendRead, messageEditsOf, statusHistory } from "../db/messages.ts";
import { Reads } from "../db/reads.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import type { OutboxPart } from "../objects/outbox.ts";
import { instanceOf } from "../objects/stubs.ts";
import { earlierSend, earlierSendOf, fingerprintOf } from "./idempotency.ts";
import { type MediaInput, type MediaType, storeMedia } from "./media.ts";
import { mentionsOf } from "./mentions.ts";
import { menuText } from "./menus.ts";
import { acceptMessage, notQueued } from "./message-status.ts";
import { messageView } from "./message-view.ts";
import { maskCode, otpText } from "./otp.ts";
import { phoneOf } from "./phone-input.ts";
import { sendableCheck } from "./privacy.ts";
import { type Quoted, quotedMessage } from "./quoted.ts";
import { type Addressee, type Recipient, addresseeOf, recipientsRead } from "./recipients.ts";
import { selectNumber, selectionRead } from "./selector.ts";
import type { SendRequest } from "./send-request.ts";
import type { Settings } from "./settings-schema.ts";
import { getSettings } from "./settings.ts";
import { entryKeys, stampRecipient } from "./tags-and-contact-groups.ts";
import { waMessageId } from "./wa-ids.ts";

export type Accepted = { id: string; status: "queued"; instance_id: string; chat_jid: string; reference: string | null };
/** `replayed`: the answer is an earlier request's, this one being its retry under the same Idempotency-Key. */
export type SendOutcome = { accepted: Accepted; replayed: boolean };

export async function sendMessage(env: Env, projectId: string, request: SendRequest, idempotencyKey?: string): Promise<SendOutcome> {
  if (request.type === "otp" && !env.POMBO_DATA_KEY) {
    throw new ApiError(503, "otp_unavailable", "OTP sends need POMBO_DATA_KEY set on the edge");
  }
  const { type, ...body } = request;
  const d1 = db(env.DB);
  const settings = await getSettings(env, projectId);
  // One reading of `to` for every check: no spelling of a suppressed number gets past the list.
  let to: Addressee;
  try {
    to = addresseeOf(request.to, settings.default_country);
  } catch (err) {
    // A retry answers its first result whatever changed since (default_country); a new request is refused as it always was.
    const idempotency = await idempotencyOf(env, projectId, type, body, idempotencyKey);
    if (idempotency?.earlier) return { accepted: accepted(idempotency.earlier), replayed: true };
    entryKeys(request.tags ?? [], "tags");
    entryKeys(request.groups ?? [], "groups");
    throw err;
  }

  // Every independent read of the accept in one D1 round trip (each table's query is its owner's), checked below in the order of their errors.
  const reads = new Reads();
  const fingerprint = idempotencyKey ? await fingerprintOf(env, type, body) : "";
  const keyed = idempotencyKey ? reads.add(keyedSendRead(env.DB, projectId, idempotencyKey)) : null;
  // Opted-out, blocked and suppressed people get nothing: refused before WhatsApp is even asked who they are.
  const refuseUnsendable = await sendableCheck(env, projectId, to, reads);
  const recipients = recipientsRead(env, projectId, [{ to, field: "to" }], reads);
  // A reply's number is the quoted message's, known only once that is read.
  const known =
    request.quoted_message_id === undefined || request.instance_id
      ? selectionRead(env, projectId, { instance_id: request.instance_id, pool_id: request.pool_id, sticky: request.sticky ?? true, chat_jid: to.jid ?? null, phone: to.phone ?? null }, reads)
      : {};
  await reads.run(env.DB);

  const idempotency = keyed && { key: idempotencyKey!, fingerprint, earlier: await earlierSendOf(d1, projectId, keyed()[0], fingerprint) };
  if (idempotency?.earlier) return { accepted: accepted(idempotency.earlier), replayed: true };
  // Stored and stamped as keys are (lowercase); a bad one is a 400 before anything else.
  request = { ...request, tags: request.tags && entryKeys(request.tags, "tags"), groups: request.groups && entryKeys(request.groups, "groups") };
  if (request.type === "contact" && request.contact_phone !== undefined) {
    // The card's number is a WhatsApp account (its waid): read like a recipient, never guessed into another country.
    request = { ...request, contact_phone: phoneOf(request.contact_phone, "contact_phone", settings.default_country) };
  }
  refuseUnsendable();
  const [recipient] = (await recipients()) as [Recipient];
  const mentioned = await mentionsOf(env, projectId, settings.default_country, "mentions" in request ? request.mentions : undefined, recipient.chat_jid);
  const quoted =
    request.quoted_message_id === undefined
      ? null
      : await quotedMessage(env, projectId, request.quoted_message_id, recipient.chat_jid, request.instance_id);
  const selection = await selectNumber(
    env,
    projectId,
    settings,
    {
      // A reply or a reaction belongs in the chat of the number that has the message.
      instance_id: request.instance_id ?? quoted?.instance_id ?? null,
      pool_id: request.pool_id,
      sticky: request.sticky ?? true,
      chat_jid: recipient.chat_jid,
    },
    known,
  );

  const id = newId();
  const { contents, stored, secret } = await build(env, projectId, request, settings, selection.instance_id, quoted);
  if (mentioned) {
    // Only texts and captioned media take mentions (the schema's rule): one part, which carries them.
    contents[0] = { ...contents[0], ...mentioned } as OutboundContent;
    stored.mentions = mentioned.mention_all ? ["all"] : mentioned.mentions;
  }
  const parts: OutboxPart[] = contents.map((content) => ({ wa_message_id: waMessageId(), content }));
  // A reply quotes on its first part (a reaction names its message itself).
  if (quoted && request.type !== "reaction") parts[0]!.quoted = quoted.quoted;
  if (secret !== undefined) {
    // The code part waits sealed: no plaintext code at rest, anywhere.
    parts.push({
      wa_message_id: waMessageId(),
      sealed: await seal(env.POMBO_DATA_KEY!, id, JSON.stringify({ type: "text", text: secret })),
    });
  }

  if (request.tags?.length || request.groups?.length) {
    await stampRecipient(env, projectId, selection.instance_id, recipient.chat_jid, { tags: request.tags, groups: request.groups, message_id: id });
  }

  const row = queuedRow({
    id,
    project_id: projectId,
    instance_id: selection.instance_id,
    chat_jid: recipient.chat_jid,
    type: request.type,
    content: quoted ? { ...stored, quoted_message_id: quoted.message_id } : stored,
    reference: request.reference ?? null,
    tags: request.tags ?? null,
    groups: request.groups ?? null,
    quoted_id: quoted?.wa_message_id ?? null,
    parts,
    idempotency,
  });
  return queueMessage(env, row, parts, settings, idempotency);
}

/** An Idempotency-Key's fingerprint of this request, and the message it already made if any; null without a key. */
export async function idempotencyOf(
  env: Env,
  projectId: string,
  type: string,
  body: object,
  key: string | undefined,
): Promise<{ key: string; fingerprint: string; earlier: MessageRow | null } | null> {
  if (!key) return null;
  const fingerprint = await fingerprintOf(env, type, body);
  return { key, fingerprint, earlier: await earlierSend(db(env.DB), projectId, key, fingerprint) };
}

/** What a message keeps of its Idempotency-Key; null without one. */
type Idempotency = { key: string; fingerprint: string } | null;

/** A new outbound message, queued, as D1 keeps it: what the send decided, everything else still unknown. */
export function queuedRow(fields: {
  id: string;
  project_id: string;
  instance_id: string;
  chat_jid: string;
  type: string;
  content: Record<string, unknown>;
  reference: string | null;
  tags: string[] | null;
  groups: string[] | null;
  quoted_id: string | null;
  parts: OutboxPart[];
  idempotency: Idempotency;
}): MessageRow & { status: "queued" } {
  const { parts, idempotency, ...given } = fields;
  const now = new Date().toISOString();
  return {
    ...given,
    direction: "outbound",
    status: "queued",
    reason: null,
    idempotency_key: idempotency?.key ?? null,
    idempotency_fingerprint: idempotency?.fingerprint ?? null,
    wa_message_id: parts.at(-1)!.wa_message_id,
    wa_message_ids: parts.map((p) => p.wa_message_id),
    message_secret: null,
    poll_message: null,
    sent_at: null,
    // Set once sent, when the message joins its conversation.
    contact_id: null,
    conversation_id: null,
    sender_jid: null,
    media_id: null,
    from_me: false,
    edited_at: null,
    read_at: null,
    created_at: now,
    updated_at: now,
  };
}

/**
 * Stores the message as `queued`, then puts it on its number's outbox, and
 * only then is it accepted; one that could not be queued is marked so and
 * answered 503. Two requests racing with one Idempotency-Key: the loser
 * answers as a retry of the winner.
 */
export async function queueMessage(
  env: Env,
  row: MessageRow & { status: "queued" },
  parts: OutboxPart[],
  settings: Settings,
  idempotency: Idempotency,
): Promise<SendOutcome> {
  const d1 = db(env.DB);
  try {
    await acceptMessage(d1, row);
  } catch (err) {
    const winner = idempotency ? await earlierSend(d1, row.project_id, idempotency.key, idempotency.fingerprint) : null;
    if (winner) return { accepted: accepted(winner), replayed: true };
    throw err;
  }
  try {
    await instanceOf(env, row.instance_id).enqueue(
      {
        message_id: row.id,
        project_id: row.project_id,
        chat_jid: row.chat_jid,
        parts,
        expires_at: Date.now() + settings.message_ttl_hours * 3_600_000,
      },
      settings,
    );
  } catch (err) {
    await notQueued(d1, row.project_id, row.id);
    console.error(`message ${row.id}: could not be queued:`, err instanceof Error ? err.message : err);
    throw new ApiError(503, "unavailable", "the message could not be queued; it was not accepted, send it again");
  }
  return { accepted: accepted(row), replayed: false };
}

export const accepted = (row: Pick<MessageRow, "id" | "instance_id" | "chat_jid" | "reference">): Accepted => ({
  id: row.id,
  status: "queued",
  instance_id: row.instance_id,
  chat_jid: row.chat_jid,
  reference: row.reference,
});

export async function getMessage(env: Env, projectId: string, id: string) {
  const d1 = db(env.DB);
  const row = await findMessage(d1, projectId, id);
  if (!row) throw notFound("message");
  const [history, edits] = await Promise.all([statusHistory(d1, id), messageEditsOf(d1, id)]);
  return { ...messageView(row), history, edits };
}

/** The WhatsApp content of each part, what is stored of the request, and the secret part if any. */
async function build(
  env: Env,
  projectId: string,
  request: SendRequest,
  settings: Settings,
  instanceId: string,
  quoted: Quoted | null,
): Promise<{ contents: OutboundContent[]; stored: Record<string, unknown>; secret?: string }> {
  switch (request.type) {
    case "text":
      return { contents: [{ type: "text", text: request.body }], stored: { body: request.body } };
    case "image":
    case "video":
    case "document":
    case "audio":
    case "sticker": {
      const { content, stored } = await mediaPart(env, projectId, request.type, request.media);
      return { contents: [content], stored };
    }
    case "location": {
      const { latitude, longitude, name = null, address = null } = request;
      return { contents: [{ type: "location", latitude, longitude, name, address }], stored: { latitude, longitude, name, address } };
    }
    case "contact": {
      // contact_phone is in E.164 by now (see sendMessage); without one, the card is the sending number's (reference 002).
      const vcard =
        request.contact_vcard ??
        simpleVcard(request.contact_name, request.contact_phone ?? (await ownPhone(env, projectId, instanceId)));
      return {
        contents: [{ type: "contact", display_name: request.contact_name, vcard }],
        stored: { contact_name: request.contact_name, contact_vcard: vcard },
      };
    }
    case "reaction":
      return {
        contents: [
          { type: "reaction", emoji: request.emoji, target: { id: quoted!.quoted.id, from_me: quoted!.quoted.from_me, participant: quoted!.quoted.participant } },
        ],
        stored: { emoji: request.emoji },
      };
    case "poll": {
      const selectable_count = request.selectable_count ?? 1;
      return {
        contents: [{ type: "poll", name: request.name, options: request.options, selectable_count }],
        stored: { name: request.name, options: request.options, selectable_count },
      };
    }
    case "buttons":
    case "list": {
      const sections = request.type === "buttons" ? [{ rows: request.buttons }] : request.sections;
      const menu = menuText(settings.language, { title: request.title, body: request.body, footer: request.footer, sections });
      return {
        contents: [{ type: "text", text: menu.text }],
        stored: { body: request.body, text: menu.text, options: menu.options },
      };
    }
    case "otp": {
      const body = request.body ?? otpText(settings.language, request.expiry_minutes);
      return {
        contents: [{ type: "text", text: body }],
        stored: { body, code_masked: maskCode(request.code), expiry_minutes: request.expiry_minutes ?? null },
        secret: request.code,
      };
    }
  }
}

/** A file to send: stored in R2, and the part that carries it. */
export async function mediaPart(
  env: Env,
  projectId: string,
  type: MediaType,
  media: MediaInput & { caption?: string; ptt?: boolean },
): Promise<{ content: OutboundContent; stored: Record<string, unknown> }> {
  const file = await storeMedia(env, projectId, type, media);
  // Captions go on images, videos and documents only; ptt (voice note) on audio only.
  const caption = type === "audio" || type === "sticker" ? null : (media.caption ?? null);
  const ptt = type === "audio" && media.ptt === true;
  const content: OutboundContent = { type, media_id: file.media_id, mimetype: file.mimetype, filename: media.filename ?? null, caption, ptt };
  return { content, stored: { media: { ...file, caption, ptt } } };
}

/** The sending number's own phone, known once it has connected. */
async function ownPhone(env: Env, projectId: string, instanceId: string): Promise<string> {
  const phone = (await findInstance(db(env.DB), projectId, instanceId))?.phone;
  if (!phone) {
    throw new ApiError(409, "instance_phone_unknown", "the sending number has not connected yet, so its phone is unknown: give contact_phone or contact_vcard", {
      field: "contact_phone",
    });
  }
  return phone;
}

function simpleVcard(name: string, e164: string): string {
  const digits = e164.slice(1);
  const fn = name.replace(/[\r\n;,]/g, " ");
  return ["BEGIN:VCARD", "VERSION:3.0", `FN:${fn}`, `TEL;type=CELL;type=VOICE;waid=${digits}:+${digits}`, "END:VCARD"].join("\n");
}


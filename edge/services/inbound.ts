/**
 * A message one of our numbers received (issue 4, reference 002): stored
 * once, in the customer's one conversation, and announced once.
 *
 * Once: this is the layer that guarantees it. The same WhatsApp message
 * comes here again: the fleet resends what it holds after a lost answer or
 * a restart, a moved lease sends it over HTTP from the old process, an
 * adopted spool file may hold a copy, WhatsApp redelivers what it got no
 * receipt for. Whatever the path, the process or the delay, the D1 unique
 * index `messages_inbound_wa` (project, number, WhatsApp id) turns a second
 * insert into the first message's id (`duplicate: true`). A message written
 * from the number's phone (`from_me`: stored as outbound, outside that index)
 * is looked up by its WhatsApp id before it is stored.
 *
 * Announced once: every repeat of a stored message is announced again, and
 * the event hub refuses it. The event's id is made from the message
 * (services/events.ts), and the hub keeps one event per id, so a repeat
 * makes no second SSE line and no second webhook delivery, while a message
 * whose event did not go out (the hub was unreachable, the object died
 * between storing and publishing) is announced by its repeat, which always
 * comes: the fleet answers nothing until this returns, and its spool
 * (fleet/inbound-spool.ts, inbound-drainer.ts) resends what is unanswered
 * until it is. Nothing is remembered in the number's object for it (a
 * "stored, not announced" mark cost two storage commits per message). The
 * hub forgets an id after 72 hours or 100,000 newer events of its shard
 * (objects/hub.ts); a repeat that comes after that (WhatsApp redelivering a
 * message we took, a copy in an adopted spool file, long after) is delivered
 * again with the same id, the same `webhook-id`, on which Standard Webhooks
 * consumers dedupe.
 *
 * The other layers that drop repeats save work, or keep attempts that run at
 * the same time apart; none sees every path or remembers a message after it
 * was delivered, so none is what makes a message once:
 * - fleet/inbound-receiver.ts remembers the ids its Baileys hook just
 *   spooled, so their upsert a moment later is not translated and sealed again;
 * - fleet/inbound-spool.ts keeps one row per (number, WhatsApp id) in a
 *   spool file (the hook and the upsert, or WhatsApp's redelivery while the
 *   row waits), so the drainer does not send it twice;
 * - objects/inbound-dedup.ts runs one attempt per WhatsApp id at a time in
 *   the number's object, which every delivery of the number passes through:
 *   a repeat racing the first (over the link and over HTTP at once) waits for
 *   its answer, so the two never both store, and the `from_me` lookup
 *   above is never raced.
 *
 * Messages the number wrote from its own phone app (`from_me`) are ours:
 * stored as sent, announced as `message.sent` with `source: "phone"`.
 *
 * With `auto_read` on (the number's own setting, else the project's), a
 * customer's message gets its read receipt once stored and before it is announced, so a repeat
 * queues it again (harmless: the number's queue keeps one per message, and WhatsApp takes a
 * second receipt for a message as the first). The keyword opt-out is redone on a repeat too.
 *
 * Edits and deletes for everyone come this way too, and change the message
 * they name (received-edits.ts).
 *
 * A number set to `ignore_groups` drops what comes from groups here, before
 * anything is stored (a file the fleet already put in the bucket is
 * removed): the fleet got it and WhatsApp its receipt (so it is not
 * resent), and this answers it as a message we do not keep
 * (`message_id: null`), which the fleet lets go of.
 */
import { phoneFromJid } from "../../shared/jid.ts";
import type { InboundMessage, ReadReceiptKey } from "../../shared/protocol.ts";
import { newId, sha256Hex } from "../crypto.ts";
import { db, statementOf } from "../db/client.ts";
import { findByWaId, findOutboundByWaId, findPoll } from "../db/messages.ts";
import type { ContactRow, ConversationRow, MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { wroteTo } from "./chat-numbers.ts";
import { avatarDue, avatarJid } from "./contact-avatars.ts";
import { touchContactByReceived } from "./contact-store.ts";
import { touchConversationByReceived } from "./conversations.ts";
import { type NewEvent, publish } from "./events.ts";
import { canonicalJid, contactFor, contactWithConversation, identify, type Who } from "./identity.ts";
import { bareJid, isGroup, phoneJid } from "./jids.ts";
import { phoneVariants } from "./phone.ts";
import { arrivedMedia, removeReceivedMedia } from "./media-store.ts";
import { type ReceivedContent, messageFields } from "./message-payload.ts";
import { markReadByNumber, storeReceived } from "./message-status.ts";
import { countReceived } from "./metrics.ts";
import { plainCustomer, storeFiled } from "./received-filing.ts";
import { receivedMentions } from "./mentions.ts";
import { keywordOptOut } from "./privacy.ts";
import { quotedMessageId } from "./quoted.ts";
import { receiveChange } from "./received-edits.ts";
import { type NumberSettings, autoReads, defaultNumberSettings } from "./number-settings.ts";
import { getSettings } from "./settings.ts";

export type Scope = { project_id: string; instance_id: string };

/** `message_id`: the message stored, or the one an edit or revoke changed (null: one we do not have). */
export type Received = { message_id: string | null; duplicate: boolean };

/** Queues a read receipt on the number's object (objects/read-receipts.ts). */
export type AutoRead = (key: ReadReceiptKey) => void;

/**
 * What the number's object brings to a received message: its own settings
 * (`ignore_groups`, `auto_read`), how it queues a read receipt, its groups'
 * subjects, and contact pictures to fetch.
 */
export type InboundHooks = {
  number?: NumberSettings;
  autoRead?: AutoRead;
  groupSubject?: GroupSubject;
  fetchAvatar?: (contact: { contact_id: string; jid: string }) => void;
};

/** The chat, who wrote, and who the message is with. */
type Parties = {
  chat_jid: string;
  group: boolean;
  sender: { jid: string; who: Who };
  contact: ContactRow | null;
  conversation: ConversationRow | null;
};

/** A group's subject as the number last heard it, without asking WhatsApp per message (objects/group-subjects.ts). */
export type GroupSubject = (groupJid: string) => Promise<string | null>;

export async function receiveMessage(env: Env, scope: Scope, msg: InboundMessage, hooks: InboundHooks = {}): Promise<Received> {
  const { number, autoRead, groupSubject, fetchAvatar } = hooks;
  if (number?.ignore_groups && isGroup(bareJid(msg.chat_jid))) {
    // The fleet stored its file before asking: nothing will ever link to it.
    if (msg.media) await removeReceivedMedia(env, scope.project_id, msg.media.media_id);
    return { message_id: null, duplicate: false };
  }
  // An edit or a delete for everyone: it changes an earlier message, it is not one.
  if (msg.type === "edit" || msg.type === "revoke") return receiveChange(env, scope, msg);
  const d1 = db(env.DB);
  // A customer writing plainly is looked up as the message is stored (received-filing.ts); anyone else, first.
  const plain = plainCustomer(msg);
  let parties = plain ? null : await partiesOf(env, scope, msg);
  const earlier = parties && msg.from_me ? await findOutboundByWaId(d1, scope.project_id, msg.wa_message_id, chatsOf(msg, parties)) : undefined;
  // Our own API sends come back this way too (WhatsApp echoes them to the number's devices); they were announced when they left.
  if (earlier && !earlier.from_me) return { message_id: earlier.id, duplicate: true };

  // A repeat (`fresh` false) goes on like the first: its announcement is refused by the hub if the first's went out (header).
  const attempt = plain ? await storeFiledReceived(env, scope, msg, plain) : null;
  const { message, fresh } =
    attempt?.filed ??
    (earlier ? { message: earlier, fresh: false } : await store(env, scope, msg, (parties ??= await partiesOf(env, scope, msg)), attempt?.built));
  parties ??= attempt?.filed?.parties ?? (await partiesOf(env, scope, msg));
  const chats = chatsOf(msg, parties);

  if (!parties.group && !msg.from_me && parties.contact) {
    // Before the announcement: if this fails, the fleet's resend comes back here.
    await keywordOptOut(env, scope.project_id, parties.contact, message);
  }
  if (!msg.from_me && autoRead && autoReads(number ?? defaultNumberSettings(), await getSettings(env, scope.project_id))) {
    // As WhatsApp addressed it: the chat and, in a group, the participant it came from.
    autoRead({ chat_jid: bareJid(msg.chat_jid), wa_message_id: msg.wa_message_id, participant: parties.group ? msg.sender_jid : null });
    await markReadByNumber(d1, scope.project_id, [message.id]);
  }
  // The `reference` of our message this one answers: how the client finds its own record (reference 004).
  const quoted = msg.quoted_id ? await findOutboundByWaId(d1, scope.project_id, msg.quoted_id, chats) : undefined;
  const group = parties.group && !msg.from_me ? { jid: parties.chat_jid, subject: (await groupSubject?.(parties.chat_jid)) ?? null } : null;
  await publish(env, scope.project_id, await eventOf(env, scope, msg, parties, message, quoted?.reference ?? null, group));
  if (!parties.group && parties.contact && fetchAvatar && avatarDue(parties.contact)) {
    const jid = avatarJid(parties.contact);
    // Queued in the number's object and fetched after this message is answered (objects/avatars.ts); after the
    // announcement, so a failed one queues nothing (the fleet's resend comes back here).
    if (jid) fetchAvatar({ contact_id: parties.contact.id, jid });
  }
  return { message_id: message.id, duplicate: !fresh };
}

/**
 * Stores the message with what it changes (contact, conversation, file) in
 * one batch; `fresh` is false when this number had already stored it.
 * `built`: its row as a plain attempt built it, filed under `parties` here.
 */
async function store(env: Env, scope: Scope, msg: InboundMessage, parties: Parties, built?: Built): Promise<{ message: MessageRow; fresh: boolean }> {
  const d1 = db(env.DB);
  const { row, media } = built ? { ...built, row: { ...built.row, ...linkOf(msg, parties) } } : await rowWithMedia(env, scope, msg, parties);
  // Every statement's text is fixed (none built per message); each after the insert acts only if it stored the message.
  const at = row.created_at;
  const statements: D1PreparedStatement[] = [...storeReceived(d1, row)];
  if (parties.contact && !parties.group) {
    const name = msg.from_me ? null : msg.push_name;
    statements.push(touchContactByReceived(env.DB, scope.project_id, parties.contact.id, { at, instance_id: scope.instance_id, name, storedId: row.id }));
  }
  if (parties.conversation) {
    statements.push(
      touchConversationByReceived(env.DB, scope.project_id, parties.conversation.id, {
        message_id: row.id,
        at,
        instance_id: scope.instance_id,
        inbound: msg.from_me ? false : stampOf(msg.timestamp),
        storedId: row.id,
      }),
    );
  }
  // The number the customer wrote to is the one that answers them (reference 000).
  if (!parties.group) statements.push(wroteTo(env.DB, scope.project_id, row.chat_jid, scope.instance_id, row.id));
  if (media?.update) statements.push(statementOf(d1, media.update));
  const [inserted] = await env.DB.batch(statements);
  if (inserted!.results.length > 0) return { message: row, fresh: true };
  const first = await findByWaId(d1, scope.project_id, scope.instance_id, msg.wa_message_id, "inbound");
  if (!first) throw new Error(`message ${msg.wa_message_id} was neither stored nor found`);
  return { message: first, fresh: false };
}

/**
 * A plain customer's message (received-filing.ts), stored and filed in one
 * round trip. `filed` null: SQL could not file it (nothing was stored), and
 * the general path (`store`) takes it, with the row `built` here. A repeat
 * comes back as this number's first copy, without parties (a repeat to
 * announce again looks them up).
 */
async function storeFiledReceived(env: Env, scope: Scope, msg: InboundMessage, who: { pn: string; lid: string | null }) {
  const d1 = db(env.DB);
  const sender = { jid: who.pn, who };
  // Its link is left empty: the batch finds it. Its chat is one of the phone's forms (the conversation's key).
  const chats = phoneVariants(phoneFromJid(who.pn)!).map(phoneJid);
  const { row, media } = await rowWithMedia(env, scope, msg, { chat_jid: who.pn, group: false, sender, contact: null, conversation: null }, chats);
  const also = [countReceived(d1, row.id), ...(media?.update ? [statementOf(d1, media.update)] : [])];
  const filed = await storeFiled(env.DB, row, { who, push_name: msg.push_name, inbound: stampOf(msg.timestamp) }, also);
  const built = { row, media };
  if (!filed?.fresh) return { built, filed: filed && { message: filed.message, fresh: false, parties: undefined } };
  const { message, contact, conversation } = filed;
  const parties: Parties = { chat_jid: message.chat_jid, group: false, sender: { ...sender, jid: message.chat_jid }, contact, conversation };
  return { built, filed: { message, fresh: true, parties } };
}

type Built = Awaited<ReturnType<typeof rowWithMedia>>;

/** The message's row, with its file when the fleet stored one (and the file's row's update, for the batch). */
async function rowWithMedia(env: Env, scope: Scope, msg: InboundMessage, parties: Parties, quoteChats?: string[]) {
  const row = await buildRow(env, scope, msg, parties, quoteChats);
  const media = msg.media ? await arrivedMedia(env, scope.project_id, msg.media) : null;
  const content = row.content as ReceivedContent;
  if (media?.ref) {
    content.media = media.ref;
    row.media_id = media.ref.id;
  } else if (media || msg.media_error) {
    // The message still arrives, without its file, saying why.
    content.media_error = msg.media_error ?? media!.error;
  }
  return { row, media };
}

/** The chat's JIDs a message of ours may be filed under (the conversation's, and as WhatsApp named it). */
const chatsOf = (msg: InboundMessage, parties: Parties) => [
  ...new Set([parties.chat_jid, bareJid(msg.chat_jid), ...(msg.chat_jid_alt ? [bareJid(msg.chat_jid_alt)] : [])]),
];

async function partiesOf(env: Env, scope: Scope, msg: InboundMessage): Promise<Parties> {
  const chat = bareJid(msg.chat_jid);
  if (isGroup(chat)) {
    const who = await identify(env, scope.project_id, scope.instance_id, [msg.sender_jid, msg.sender_jid_alt]);
    // A participant is a contact like a one-to-one customer (same LID and 9th-digit rules), but the
    // group is no conversation of theirs, nor their number's sticky one.
    const contact = msg.from_me ? null : await contactFor(env, scope.project_id, scope.instance_id, who, { source: "inbound", name: msg.push_name });
    return { chat_jid: chat, group: true, sender: { jid: canonicalJid(who, bareJid(msg.sender_jid)), who }, contact, conversation: null };
  }
  // One-to-one: the chat is the customer; the sender is them too, unless we wrote it.
  const jids = [msg.chat_jid, msg.chat_jid_alt, ...(msg.from_me ? [] : [msg.sender_jid, msg.sender_jid_alt])];
  // A LID with its phone is checked against the LID map in the lookup's round trip, not one of its own.
  const who = await identify(env, scope.project_id, scope.instance_id, jids, { pairLater: true });
  const create = { source: msg.from_me ? ("outbound" as const) : ("inbound" as const), name: msg.from_me ? null : msg.push_name };
  const { contact, conversation } = await contactWithConversation(env, scope.project_id, scope.instance_id, who, create, true);
  const chat_jid = conversation?.chat_jid ?? canonicalJid(who, chat);
  return { chat_jid, group: false, sender: { jid: chat_jid, who }, contact, conversation };
}

/** Where the message is filed, and who wrote it (none: the number, from its phone). */
const linkOf = (msg: InboundMessage, parties: Parties) => ({
  chat_jid: parties.chat_jid,
  contact_id: parties.contact?.id ?? null,
  conversation_id: parties.conversation?.id ?? null,
  sender_jid: msg.from_me ? null : parties.sender.jid,
});

/** WhatsApp's own time, unless it is nonsense (then now). */
function stampOf(timestamp: number): string {
  const ms = timestamp * 1000;
  return ms > 0 && ms <= Date.now() + 60_000 ? new Date(ms).toISOString() : new Date().toISOString();
}

/** `quoteChats`: where the message it quotes may be (the chat, or every JID the customer's conversation may be keyed on while it is not found yet). */
async function buildRow(env: Env, scope: Scope, msg: InboundMessage, parties: Parties, quoteChats = [parties.chat_jid]): Promise<MessageRow & { status: "received" | "sent" }> {
  const content: ReceivedContent = { body: msg.body, timestamp: msg.timestamp };
  if (msg.offline) content.offline = true;
  if (msg.location) content.location = msg.location;
  if (msg.contact) content.contact = msg.contact;
  if (msg.poll) content.poll = msg.poll;
  if (msg.poll_vote) {
    content.poll_vote = await resolveVote(env, scope.project_id, msg.poll_vote);
    content.body = content.poll_vote.selected.join(", ");
  }
  const quoted = await quotedMessageId(env, scope.project_id, quoteChats, msg.quoted_id);
  if (quoted) content.quoted_message_id = quoted;
  if (msg.mentions.length) content.mentions = await receivedMentions(env, scope.project_id, scope.instance_id, msg.mentions);
  // Stored in the order received (the fleet relays each chat in order), to the millisecond;
  // WhatsApp's own time, in seconds, stays in the content.
  const now = new Date().toISOString();
  return {
    id: newId(),
    project_id: scope.project_id,
    instance_id: scope.instance_id,
    ...linkOf(msg, parties),
    direction: msg.from_me ? "outbound" : "inbound",
    type: msg.type,
    content: content as Record<string, unknown>,
    status: msg.from_me ? "sent" : "received",
    reason: null,
    // A received message has no reference of its own; the one it answers rides on its event.
    reference: null,
    idempotency_key: null,
    idempotency_fingerprint: null,
    wa_message_id: msg.wa_message_id,
    wa_message_ids: null,
    tags: null,
    groups: null,
    message_secret: null,
    poll_message: null,
    sent_at: msg.from_me ? stampOf(msg.timestamp) : null,
    quoted_id: msg.quoted_id,
    media_id: null,
    from_me: msg.from_me,
    edited_at: null,
    read_at: null,
    created_at: now,
    updated_at: now,
  };
}

/**
 * Names a vote's options: WhatsApp sends the SHA-256 of each chosen option's
 * name, so they are matched against the poll's options. An unknown poll
 * gives no names (and the hashes stay out of the event: they mean nothing
 * to a client).
 */
async function resolveVote(env: Env, projectId: string, vote: NonNullable<InboundMessage["poll_vote"]>) {
  const poll = await findPoll(db(env.DB), projectId, vote.poll_message_id);
  const content = (poll?.content ?? {}) as { options?: string[]; poll?: { options?: string[] } };
  const options = content.options ?? content.poll?.options ?? [];
  const byHash = new Map(options.map((name) => [sha256Hex(name), name] as const));
  const selected = vote.selected_hashes.map((h) => byHash.get(h)).filter((name): name is string => name !== undefined);
  return { poll_message_id: vote.poll_message_id, selected };
}

async function eventOf(
  env: Env,
  scope: Scope,
  msg: InboundMessage,
  parties: Parties,
  row: MessageRow,
  reference: string | null,
  group: { jid: string; subject: string | null } | null,
): Promise<NewEvent> {
  const fields = await messageFields(env, row);
  const ids = { contact_id: row.contact_id, conversation_id: row.conversation_id, reference };
  const base = { message_id: row.id, wa_message_id: row.wa_message_id! };
  if (msg.from_me) {
    return {
      type: "message.sent",
      instance_id: scope.instance_id,
      ...ids,
      payload: { ...base, ...fields, to: row.chat_jid, status: "sent", sent_at: row.sent_at, source: "phone" },
    };
  }
  const { who } = parties.sender;
  return {
    type: "message.received",
    instance_id: scope.instance_id,
    sender: { jid: parties.sender.jid, lid: who.lid ?? parties.contact?.lid ?? null, name: msg.push_name ?? parties.contact?.name ?? null },
    ...ids,
    payload: { ...base, ...fields, from: row.chat_jid, ...(group && { group }) },
  };
}

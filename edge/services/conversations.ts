/**
 * Conversations (references 000, 002, 004): one per customer across all the
 * project's numbers, keyed by the customer's canonical JID. Each shows its
 * contact, the number talking to them now, the last message, what is unread
 * and whether the customer's 24-hour window is open.
 *
 * Owner of the `conversations` table: the only module that writes it. A
 * conversation is created on its contact's first message (conversationFor),
 * moved along by every message (touchConversation: inbound.ts,
 * sent-messages.ts), rekeyed or merged when identity.ts joins a LID to its
 * phone, read by a client, and forgotten with its contact.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { phoneVariants } from "./phone.ts";
import { newId } from "../crypto.ts";
import { type Db, db } from "../db/client.ts";
import { findContacts } from "../db/contacts.ts";
import {
  type After,
  conversationTouched,
  conversationStartStatement,
  conversationTouchedByReceivedSql,
  conversationTouchedIfStored,
  conversationTouchedSql,
  deleteConversation,
  findConversation,
  insertConversation,
  insertConversationIfNewSql,
  listConversations,
  markRead,
  updateConversation,
} from "../db/conversations.ts";
import { pnForLid } from "../db/lid-map.ts";
import { conversationMessages } from "../db/message-lists.ts";
import type { ContactRow, ConversationRow, MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { bareJid, isGroup, isLid, isPhoneJid } from "./jids.ts";
import { messageFields, waIdOf } from "./message-payload.ts";
import { projectPhone } from "./phone-input.ts";

const WINDOW_MS = 24 * 3_600_000;

/**
 * The contact's one conversation, created on its first message. `fresh`: the
 * contact was created just now, so there is none to look for first (a
 * concurrent first message's is found after the insert).
 */
export async function conversationFor(env: Env, projectId: string, contact: ContactRow, instanceId: string, fresh = false): Promise<ConversationRow> {
  const d1 = db(env.DB);
  const existing = fresh ? undefined : await findConversation(d1, projectId, { contact_id: contact.id });
  if (existing) return existing;
  const chat_jid = contact.jid ?? contact.lid!;
  const inserted = await insertConversation(d1, { id: newId(), project_id: projectId, contact_id: contact.id, chat_jid, instance_id: instanceId });
  if (inserted) return inserted;
  // A concurrent first message created it.
  const winner = (await findConversation(d1, projectId, { contact_id: contact.id })) ?? (await findConversation(d1, projectId, { chat_jid }));
  if (!winner) throw new Error(`conversation for contact ${contact.id} could not be created`);
  return winner;
}

/**
 * The first message to a contact starts its conversation, as SQL text for a
 * statement written once (the move to `sent`'s batch): the contact
 * `contact_id` names (a subquery), unless `onlyIf` fails or it has one.
 */
export const startConversationIfNewSql = (p: Parameters<typeof insertConversationIfNewSql>[0]) => insertConversationIfNewSql(p);

/** The same for a contact inserted in the same batch (identity.ts, a new customer's first message): its rows are the conversation started, or none. */
export const startConversationOf = (d1: D1Database, row: { id: string; project_id: string; instance_id: string }, contactId: string) =>
  conversationStartStatement(d1, row, contactId);

/**
 * A message joined the conversation, for a batch: inbound, one more unread
 * and the customer's 24-hour window restarts; ours, nothing is unread any
 * more. The last message only moves forward in time.
 */
export const touchConversation = (d1: Db, projectId: string, id: Parameters<typeof conversationTouched>[2], touch: Parameters<typeof conversationTouched>[3]) =>
  conversationTouched(d1, projectId, id, touch);

/** The same for a received message's batch, as a statement whose text is fixed: only if the message `storedId` was stored. */
export const touchConversationByReceived = (d1: D1Database, projectId: string, id: string, touch: Parameters<typeof conversationTouchedIfStored>[3]) =>
  conversationTouchedIfStored(d1, projectId, id, touch);

/** The same as SQL text for a statement written once, the conversation found as it is written (received-filing.ts). */
export const touchConversationByReceivedSql = (p: Parameters<typeof conversationTouchedByReceivedSql>[0], returning?: string) =>
  conversationTouchedByReceivedSql(p, returning);

/** The same for a message we sent, as SQL text for a statement written once (the move to `sent`'s batch). */
export const touchConversationSql = (p: Parameters<typeof conversationTouchedSql>[0]) => conversationTouchedSql(p);

/** The contact learned its phone: its conversation is keyed on the phone JID now. For a batch. */
export const rekeyConversation = (d1: Db, projectId: string, id: string, chatJid: string) => updateConversation(d1, projectId, id, { chat_jid: chatJid });

const later = (a: string | null, b: string | null) => ((a ?? "") >= (b ?? "") ? a : b);

/**
 * Two contacts turned out to be one person: `from`'s conversation joins
 * `into`'s, for the merge's batch. With both, `into`'s keeps the newer last
 * message (and its number), the later customer message and every unread,
 * and `from`'s goes; with `from`'s alone, it becomes `into`'s, keyed on
 * `chatJid`. `moved`: the person's latest conversation was `from`'s, so the
 * number that talked to them there should keep doing so.
 */
export function mergeConversations(
  d1: Db,
  projectId: string,
  from: ConversationRow | undefined,
  into: ConversationRow | undefined,
  to: { contact_id: string; chat_jid: string },
): { writes: BatchItem<"sqlite">[]; moved: boolean } {
  if (from && into) {
    const fromIsNewer = (from.last_message_at ?? "") > (into.last_message_at ?? "");
    const newer = fromIsNewer ? from : into;
    const writes = [
      deleteConversation(d1, projectId, from.id),
      updateConversation(d1, projectId, into.id, {
        last_message_id: newer.last_message_id,
        last_message_at: newer.last_message_at,
        instance_id: newer.instance_id,
        last_inbound_at: later(from.last_inbound_at, into.last_inbound_at),
        unread_count: from.unread_count + into.unread_count,
      }),
    ];
    return { writes, moved: fromIsNewer };
  }
  if (from) return { writes: [updateConversation(d1, projectId, from.id, to)], moved: true };
  return { writes: [], moved: false };
}

/** The contact's conversation goes with it (its messages stay), for the contact's removal batch. */
export async function forgetConversation(d1: Db, projectId: string, contactId: string): Promise<BatchItem<"sqlite">[]> {
  const conversation = await findConversation(d1, projectId, { contact_id: contactId });
  return conversation ? [deleteConversation(d1, projectId, conversation.id)] : [];
}

// ------------------------------------------------------------ the API

/** Pages are opaque to clients: base64url of the last row's sort key and id. */
export function encodeCursor(after: After): string {
  return btoa(JSON.stringify([after.at, after.id])).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): After | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/"))) as unknown[];
    if (typeof at === "string" && typeof id === "string" && at && id) return { at, id };
  } catch {
    // falls through to the 400
  }
  throw new ApiError(400, "invalid_request", "cursor: not a cursor this API gave out", { field: "cursor" });
}

/** Fetches one more row than asked, to know whether another page follows. */
export function cursorPage<T>(rows: T[], limit: number, keyOf: (row: T) => After) {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}

async function lastMessage(env: Env, row: MessageRow | null) {
  if (!row) return null;
  const { body } = await messageFields(env, row);
  return { id: row.id, type: row.type, direction: row.direction, body, status: row.status, created_at: row.created_at };
}

function windowOf(lastInboundAt: string | null, now = Date.now()) {
  if (!lastInboundAt) return { window_expires_at: null, window_open: false };
  const expires = Date.parse(lastInboundAt) + WINDOW_MS;
  return { window_expires_at: new Date(expires).toISOString(), window_open: expires > now };
}

export async function conversationsPage(env: Env, projectId: string, query: { instance_id?: string; limit: number; cursor?: string }) {
  const after = decodeCursor(query.cursor);
  const rows = await listConversations(db(env.DB), projectId, { instance_id: query.instance_id, limit: query.limit + 1, after });
  const { data, next_cursor } = cursorPage(rows, query.limit, (r) => ({ at: r.conversation.last_message_at!, id: r.conversation.id }));
  return {
    data: await Promise.all(
      data.map(async ({ conversation: c, contact, last }) => ({
        id: c.id,
        chat_jid: c.chat_jid,
        contact,
        instance_id: c.instance_id,
        last_message: await lastMessage(env, last),
        unread_count: c.unread_count,
        last_message_at: c.last_message_at,
        last_inbound_at: c.last_inbound_at,
        ...windowOf(c.last_inbound_at),
        created_at: c.created_at,
      })),
    ),
    next_cursor,
  };
}

const NOT_A_CHAT = "not a phone number, a phone JID or a LID";
const badJid = () => new ApiError(400, "invalid_request", `jid: ${NOT_A_CHAT}`, { field: "jid" });

/**
 * The conversation a client names by the customer's phone JID, `+phone`
 * (either Brazilian form) or LID (through what WhatsApp told us it stands for).
 */
export async function findConversationByJid(env: Env, projectId: string, jid: string): Promise<ConversationRow> {
  const d1 = db(env.DB);
  const raw = jid.trim();
  let phones: string[] = [];
  let lid: string | null = null;
  if (raw.includes("@")) {
    const bare = bareJid(raw);
    const direct = await findConversation(d1, projectId, { chat_jid: bare });
    if (direct) return direct;
    if (isLid(bare)) {
      lid = bare;
      const pn = await pnForLid(d1, projectId, bare);
      if (pn) phones = phoneVariants(`+${pn.split("@")[0]}`);
    } else if (isPhoneJid(bare) && /^\d{5,15}@/.test(bare)) {
      phones = phoneVariants(`+${bare.split("@")[0]}`);
    } else if (!isGroup(bare)) {
      throw badJid();
    }
  } else {
    phones = phoneVariants(await projectPhone(env, projectId, raw, "jid", NOT_A_CHAT));
  }
  const contacts = await findContacts(d1, projectId, phones, lid ? [lid] : []);
  // The phone's contact first: a LID's contact not merged yet is the same person's older half.
  const contact = contacts.find((c) => c.phone !== null && phones.includes(c.phone)) ?? contacts[0];
  const conversation = contact ? await findConversation(d1, projectId, { contact_id: contact.id }) : undefined;
  if (!conversation) throw notFound("conversation");
  return conversation;
}

/** One message of a conversation's history: reference 002's shape plus our own fields. */
export async function historyEntry(env: Env, row: MessageRow) {
  return {
    id: row.id,
    direction: row.direction,
    status: row.status,
    reason: row.reason,
    instance_id: row.instance_id,
    chat_jid: row.chat_jid,
    wa_message_id: waIdOf(row),
    reference: row.reference,
    ...(row.from_me ? { source: "phone" } : {}),
    ...(await messageFields(env, row)),
    created_at: row.created_at,
  };
}

export async function conversationMessagesPage(env: Env, projectId: string, jid: string, query: { limit: number; cursor?: string }) {
  const after = decodeCursor(query.cursor);
  const conversation = await findConversationByJid(env, projectId, jid);
  const rows = await conversationMessages(db(env.DB), projectId, conversation, { limit: query.limit + 1, after });
  const { data, next_cursor } = cursorPage(rows, query.limit, (r) => ({ at: r.created_at, id: r.id }));
  return { data: await Promise.all(data.map((row) => historyEntry(env, row))), next_cursor };
}

/** A client read the conversation: nothing in it is unread any more (its read receipts: read-receipts.ts). */
export const markConversationRead = (d1: Db, projectId: string, id: string) => markRead(d1, projectId, id);

/**
 * A contact's timeline (reference 001): the messages of their conversation
 * and what happened to the contact (notes, opt-out and opt-in, suppression,
 * tag and group changes, status transitions), merged, newest first.
 *
 * Pages by cursor, as conversations do: the last entry's (created_at, id),
 * which both halves share, so a page boundary falls in the same place in
 * each. Group-chat messages a contact wrote are not in it: the timeline is
 * the one-to-one relationship.
 */
import { db } from "../db/client.ts";
import { contactEventsPage } from "../db/contact-events.ts";
import { findConversation } from "../db/conversations.ts";
import { conversationMessages } from "../db/message-lists.ts";
import type { ContactEventRow, MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { contactEvent, recordContactEvents } from "./contact-events.ts";
import { contactOrThrow } from "./contact-store.ts";
import { decodeCursor, encodeCursor } from "./conversations.ts";
import { messageFields } from "./message-payload.ts";

export type TimelineEntry = {
  id: string;
  kind: "message" | "event";
  type: string;
  direction?: MessageRow["direction"];
  status?: MessageRow["status"];
  actor: string;
  payload: Record<string, unknown>;
  created_at: string;
};

/** An internal note: in the timeline, never sent to the contact. */
export async function addNote(env: Env, projectId: string, contactId: string, body: string): Promise<TimelineEntry> {
  await contactOrThrow(env, projectId, contactId);
  const row = contactEvent(projectId, contactId, "note", "api", { body });
  await recordContactEvents(db(env.DB), [row]);
  return eventEntry(row as ContactEventRow);
}

export async function contactHistory(env: Env, projectId: string, contactId: string, query: { limit: number; cursor?: string }) {
  const after = decodeCursor(query.cursor);
  const d1 = db(env.DB);
  const contact = await contactOrThrow(env, projectId, contactId);
  const conversation = await findConversation(d1, projectId, { contact_id: contact.id });
  // Sends still queued to a contact with no conversation yet are found by the chat they were addressed to.
  const chat = conversation ?? { id: "", chat_jid: contact.jid ?? contact.lid };
  const opts = { limit: query.limit + 1, after };
  const [messages, events] = await Promise.all([
    chat.chat_jid ? conversationMessages(d1, projectId, { id: chat.id, chat_jid: chat.chat_jid }, opts) : [],
    contactEventsPage(d1, projectId, contact.id, opts),
  ]);
  const rows = [...messages.map((m) => ({ at: m.created_at, id: m.id, message: m })), ...events.map((e) => ({ at: e.created_at, id: e.id, event: e }))];
  // Plain string order, as SQLite's: the order the cursor pages by.
  const desc = (x: string, y: string) => (x < y ? 1 : x > y ? -1 : 0);
  rows.sort((a, b) => desc(a.at, b.at) || desc(a.id, b.id));
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    data: await Promise.all(page.map((r) => ("message" in r ? messageEntry(env, r.message!) : eventEntry(r.event!)))),
    next_cursor: rows.length > query.limit && last ? encodeCursor({ at: last.at, id: last.id }) : null,
  };
}

function eventEntry(row: ContactEventRow): TimelineEntry {
  return { id: row.id, kind: "event", type: row.type, actor: row.actor, payload: row.payload, created_at: row.created_at };
}

/** Who wrote a message: the contact, a client through the API, or someone on the number's own phone app. */
const authorOf = (row: MessageRow) => (row.direction === "inbound" ? "contact" : row.from_me ? "phone" : "api");

async function messageEntry(env: Env, row: MessageRow): Promise<TimelineEntry> {
  const { type, ...fields } = await messageFields(env, row);
  return {
    id: row.id,
    kind: "message",
    type,
    direction: row.direction,
    status: row.status,
    actor: authorOf(row),
    payload: { ...fields, instance_id: row.instance_id, ...(row.reference ? { reference: row.reference } : {}) },
    created_at: row.created_at,
  };
}

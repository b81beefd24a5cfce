/**
 * Reads of many messages at once, newest first, by cursor: a conversation's
 * history and GET /messages' search. Only reads: `messages` is written
 * through services/message-status.ts.
 */
import { type SQL, and, desc, eq, gte, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { type After, afterKey } from "./conversations.ts";
import { type MessageRow, messages } from "./schema/index.ts";

/**
 * A conversation's messages, newest first. Sends still queued (or failed
 * before leaving) are not stamped with the conversation yet: they are found
 * by the chat they were addressed to. Two indexed queries, merged, rather
 * than one OR the planner would answer by scanning the project.
 */
export async function conversationMessages(
  db: Db,
  projectId: string,
  conversation: { id: string; chat_jid: string },
  opts: { limit: number; after?: After },
): Promise<MessageRow[]> {
  const page = opts.after ? afterKey(messages.created_at, messages.id, opts.after) : undefined;
  const newest = (where: SQL | undefined) =>
    db
      .select()
      .from(messages)
      .where(and(eq(messages.project_id, projectId), where, page))
      .orderBy(desc(messages.created_at), desc(messages.id))
      .limit(opts.limit);
  const [stamped, unstamped] = await db.batch([
    newest(eq(messages.conversation_id, conversation.id)),
    newest(and(eq(messages.chat_jid, conversation.chat_jid), isNull(messages.conversation_id))),
  ]);
  return mergedNewest([stamped, unstamped], opts.limit);
}

// Plain string order, as SQLite's: the same order the cursor pages by.
const desc2 = (x: string, y: string) => (x < y ? 1 : x > y ? -1 : 0);
const newestFirst = (a: MessageRow, b: MessageRow) => desc2(a.created_at, b.created_at) || desc2(a.id, b.id);

/** The newest `limit` of several newest-first lists (of distinct rows). */
const mergedNewest = (lists: MessageRow[][], limit: number) => lists.flat().sort(newestFirst).slice(0, limit);

/** GET /messages: what a search asks for, already canonical (chat JIDs, ISO times). */
export type MessageFilter = {
  statuses?: MessageRow["status"][];
  instance_id?: string;
  direction?: MessageRow["direction"];
  chat_jids?: string[];
  reference?: string;
  type?: string;
  /** created_at at or after. */
  since?: string;
  /** created_at before. */
  until?: string;
};

/**
 * Without table statistics SQLite guesses an equality narrows a key little,
 * and given a time window on both sides it would rather walk the whole
 * project by time (messages_project) than one chat's or status's rows.
 * likelihood() says the term is selective, so the narrower index wins; the
 * term stays an index constraint.
 */
const rare = (term: SQL | undefined) => sql`likelihood(${term}, 0.001)`;

/**
 * The statements of a search, newest first, each at most `limit` rows. A
 * list filter (chats, else statuses) becomes one statement per value, each
 * read in order off its index (messages_chat, messages_status) and stopping
 * at `limit`; an IN over the index would sort every match instead.
 */
export function searchStatements(db: Db, projectId: string, filter: MessageFilter, opts: { limit: number; after?: After }) {
  const { chat_jids, statuses } = filter;
  const common = and(
    eq(messages.project_id, projectId),
    filter.instance_id !== undefined ? eq(messages.instance_id, filter.instance_id) : undefined,
    filter.direction !== undefined ? eq(messages.direction, filter.direction) : undefined,
    filter.reference !== undefined ? rare(eq(messages.reference, filter.reference)) : undefined,
    filter.type !== undefined ? eq(messages.type, filter.type) : undefined,
    filter.since !== undefined ? gte(messages.created_at, filter.since) : undefined,
    filter.until !== undefined ? lt(messages.created_at, filter.until) : undefined,
    opts.after ? afterKey(messages.created_at, messages.id, opts.after) : undefined,
  );
  const branches: (SQL | undefined)[] = chat_jids
    ? chat_jids.map((jid) => and(rare(eq(messages.chat_jid, jid)), statuses ? inArray(messages.status, statuses) : undefined))
    : statuses
      ? statuses.map((status) => rare(eq(messages.status, status)))
      : [undefined];
  return branches.map((branch) =>
    db
      .select()
      .from(messages)
      .where(and(common, branch))
      .orderBy(desc(messages.created_at), desc(messages.id))
      .limit(opts.limit),
  );
}

export async function searchMessages(db: Db, projectId: string, filter: MessageFilter, opts: { limit: number; after?: After }) {
  const [first, ...rest] = searchStatements(db, projectId, filter, opts);
  const lists = await db.batch([first!, ...rest]);
  return mergedNewest(lists, opts.limit);
}

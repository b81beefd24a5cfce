/**
 * The number each chat talks to, its sticky number (reference 000): owner of
 * `chat_numbers` (db/chat-numbers.ts). A sticky send reads it in the accept's
 * batch (selector.ts) and, for a chat with no usable number, sticks its pick
 * in one transaction; a received 1:1 message makes the number written to the
 * chat's, in the batch that stores it (inbound.ts); a LID that turns out to
 * be a phone passes its number on (identity.ts). No Durable Object on any of
 * these paths.
 *
 * Chats stuck before the table existed have their number in their
 * ContactAffinity object only (objects/affinity.ts): a chat the table has no
 * row for asks its object once, and what it says is written here. Only in
 * projects that existed then (`projects.legacy_chat_numbers`).
 */
import { backfillChatNumber, chatNumberWrittenSql, findChatNumber, setChatNumber, setChatNumberIfStored, stickChat } from "../db/chat-numbers.ts";
import { type Db, db } from "../db/client.ts";
import { hasLegacyChatNumbers } from "../db/projects.ts";
import type { Env } from "../env.ts";
import { affinityOf } from "../objects/stubs.ts";

/**
 * Which projects may have legacy objects, per isolate. The fact never
 * changes for a project (a project created since the table has none, and
 * nothing writes those objects any more), so it is read once: a first send
 * to a chat of a new project asks no object and no extra D1 query after that.
 */
const legacyProjects = new Map<string, boolean>();

async function mayHaveLegacy(env: Env, projectId: string): Promise<boolean> {
  let legacy = legacyProjects.get(projectId);
  if (legacy === undefined) {
    legacy = await hasLegacyChatNumbers(env.DB, projectId);
    if (legacyProjects.size > 10_000) legacyProjects.clear();
    legacyProjects.set(projectId, legacy);
  }
  return legacy;
}

/** What the chat's legacy object holds (null: nothing, or a project with no such objects), copied into the table when it holds a number. */
export async function legacyNumber(env: Env, projectId: string, chatJid: string): Promise<string | null> {
  if (!(await mayHaveLegacy(env, projectId))) return null;
  const number = await affinityOf(env, projectId, chatJid).get();
  if (number) await backfillChatNumber(db(env.DB), projectId, chatJid, number);
  return number;
}

/** The chat's number, whatever its state: the table's, else its legacy object's. */
export async function numberOfChat(env: Env, projectId: string, chatJid: string): Promise<string | null> {
  return (await findChatNumber(env.DB, projectId, chatJid)) ?? (await legacyNumber(env, projectId, chatJid));
}

/** See stickChat: `candidate` unless the chat has one of `usable` already; the chat's number after. */
export const stick = (env: Env, projectId: string, chatJid: string, candidate: string, usable: string[]) =>
  stickChat(env.DB, projectId, chatJid, candidate, usable);

/** For the batch that stores a received 1:1 message (if the message `storedId` was stored): the number written to is the chat's now. */
export const wroteTo = (d1: D1Database, projectId: string, chatJid: string, instanceId: string, storedId: string) =>
  setChatNumberIfStored(d1, projectId, chatJid, instanceId, storedId);

/** The same as SQL text for a statement written once (received-filing.ts), the chat a subquery, say. */
export const wroteToSql = (p: Parameters<typeof chatNumberWrittenSql>[0]) => chatNumberWrittenSql(p);

/** The number that talked to chat `from` keeps talking to chat `to` (the same person, under another JID). */
export async function passOn(env: Env, projectId: string, from: string, to: string): Promise<void> {
  const number = await numberOfChat(env, projectId, from);
  if (number) await setChatNumber(db(env.DB), projectId, to, number);
}

/**
 * GET /messages: the project's messages, newest first, by cursor (the same
 * cursor as conversations), with filters. A chat is named as a send's `to`
 * is (any phone spelling, or a JID) and matched in every form it may be
 * stored under: both Brazilian forms, and the LIDs WhatsApp said stand for
 * the phone (or the phone a LID stands for).
 */
import { db } from "../db/client.ts";
import { lidsForPns, pnForLid } from "../db/lid-map.ts";
import { type MessageFilter, searchMessages } from "../db/message-lists.ts";
import { StoredMessageStatus } from "../enums.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { listOf } from "./contact-profiles.ts";
import { cursorPage, decodeCursor } from "./conversations.ts";
import { isGroup, isLid, phoneJid } from "./jids.ts";
import { messageView } from "./message-view.ts";
import { phoneVariants } from "./phone.ts";
import { addresseeOf } from "./recipients.ts";
import { getSettings } from "./settings.ts";

export type MessageQuery = Omit<MessageFilter, "statuses" | "chat_jids"> & {
  status?: string | string[];
  to?: string;
  limit: number;
  cursor?: string;
};


/** Every chat JID the person or group `to` names may be stored under. */
async function chatJidsOf(env: Env, projectId: string, to: string): Promise<string[]> {
  const d1 = db(env.DB);
  const addressee = addresseeOf(to, (await getSettings(env, projectId)).default_country, "to");
  let phone = addressee.phone;
  const jids: string[] = [];
  if (addressee.jid !== undefined) {
    jids.push(addressee.jid);
    if (isGroup(addressee.jid)) return jids;
    const pn = isLid(addressee.jid) ? await pnForLid(d1, projectId, addressee.jid) : addressee.jid;
    phone = pn ? `+${pn.split("@")[0]}` : undefined;
  }
  if (phone === undefined) return jids;
  const pns = phoneVariants(phone).map(phoneJid);
  return [...new Set([...jids, ...pns, ...(await lidsForPns(d1, projectId, pns))])];
}

function statusesOf(value: string | string[]): MessageFilter["statuses"] {
  const statuses = [...new Set(listOf(value))];
  const bad = statuses.find((s) => !StoredMessageStatus.safeParse(s).success);
  if (bad !== undefined || statuses.length === 0) {
    const what = bad === undefined ? "empty" : `"${bad}" is not one of ${StoredMessageStatus.options.join(", ")}`;
    throw new ApiError(400, "invalid_request", `status: ${what}`, { field: "status" });
  }
  return statuses as MessageFilter["statuses"];
}

const iso = (value: string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());

export async function searchMessagesPage(env: Env, projectId: string, query: MessageQuery) {
  const { status, to, limit, cursor, since, until, ...rest } = query;
  const after = decodeCursor(cursor);
  const filter: MessageFilter = { ...rest, since: iso(since), until: iso(until) };
  if (status !== undefined) filter.statuses = statusesOf(status);
  if (to !== undefined) filter.chat_jids = await chatJidsOf(env, projectId, to);
  const rows = await searchMessages(db(env.DB), projectId, filter, { limit: limit + 1, after });
  const { data, next_cursor } = cursorPage(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
  return { data: data.map(messageView), next_cursor };
}

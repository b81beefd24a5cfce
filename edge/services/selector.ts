/**
 * Which number sends a message (reference 000):
 *
 * | send with     | result                                                      |
 * | instance_id   | exactly that number, no rotation or warming check           |
 * | pool_id       | rotate within the pool                                      |
 * | nothing       | sticky: the contact's number if usable, else rotate and stick |
 * | sticky: false | rotate (broadcast)                                          |
 *
 * A WhatsApp group is sent to by one of its members: without instance_id,
 * the connected number last seen in the group (see whatsapp-groups.ts).
 *
 * Rotation only picks connected numbers at or above the health threshold,
 * prefers warmed numbers with room left today, and falls back to warming ones.
 * Owner of the rotation cursors (`rr_cursor` of `pools` and `project_settings`).
 */
import { db } from "../db/client.ts";
import { type ChatNumber, chatNumberRead, findChatNumber } from "../db/chat-numbers.ts";
import { type RotationCandidate, connectedInstances, connectedInstancesRead, findInstance, instanceExistsRead } from "../db/instances.ts";
import type { Reads } from "../db/reads.ts";
import { advancePoolCursor, findPool } from "../db/pools.ts";
import { advanceProjectCursor } from "../db/settings.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { legacyNumber, stick } from "./chat-numbers.ts";
import { isGroup } from "./jids.ts";
import { dailyLimit, dayKey, warmingOf } from "./pacing.ts";
import type { Settings, Strategy } from "./settings-schema.ts";
import { groupSender } from "./whatsapp-groups.ts";

export type Selection = { instance_id: string; via: "instance_id" | "pool" | "sticky" | "rotation" | "group_member" };

export type SelectInput = { instance_id?: string | null; pool_id?: string | null; sticky: boolean; chat_jid: string };

export const noNumber = () =>
  new ApiError(409, "no_number_available", "no connected, healthy number can send right now");

/**
 * What `selectNumber` reads for `input`, started before it runs and handed
 * back to it as `known`: the pinned number, or the project's connected
 * numbers, and the chat's sticky number, as reads joined to a caller's
 * batch. Nothing for a group or a pool (their rules read more). `chat_jid`:
 * null while the chat is still to be looked up from `phone` (then its row is
 * read by the JID the recipients cache holds for the phone).
 */
export function selectionRead(
  env: Env,
  projectId: string,
  input: { instance_id?: string | null; pool_id?: string | null; sticky: boolean; chat_jid: string | null; phone?: string | null },
  reads: Reads,
): Known {
  if (input.instance_id) {
    const rows = reads.add(instanceExistsRead(env.DB, projectId, input.instance_id));
    return { pinned: () => rows().length > 0 };
  }
  if ((input.chat_jid && isGroup(input.chat_jid)) || input.pool_id) return {};
  const connected = reads.add(connectedInstancesRead(env.DB, projectId));
  if (!input.sticky || !(input.chat_jid || input.phone)) return { connected };
  const to = input.chat_jid ? { jid: input.chat_jid } : { phone: input.phone! };
  return { connected, stuck: reads.add(chatNumberRead(env.DB, projectId, to)) };
}

/**
 * What `selectNumber` would read, read already (see selectionRead): whether
 * the pinned number is the project's, the connected numbers, the chat's
 * sticky number (db/chat-numbers.ts `chatNumberRead`).
 */
export type Known = {
  pinned?: () => boolean;
  connected?: () => RotationCandidate[];
  stuck?: () => ChatNumber[];
};

export async function selectNumber(env: Env, projectId: string, settings: Settings, input: SelectInput, known: Known = {}): Promise<Selection> {
  const d1 = db(env.DB);
  if (input.instance_id) {
    const pinned = known.pinned ? known.pinned() : (await findInstance(d1, projectId, input.instance_id)) !== undefined;
    if (!pinned) throw new ApiError(404, "not_found", "instance not found", { field: "instance_id" });
    return { instance_id: input.instance_id, via: "instance_id" };
  }
  if (isGroup(input.chat_jid)) {
    return { instance_id: await groupSender(env, projectId, input.chat_jid, input.pool_id ?? null), via: "group_member" };
  }
  if (input.pool_id) {
    const pool = await findPool(d1, projectId, input.pool_id);
    if (!pool) throw new ApiError(404, "not_found", "pool not found", { field: "pool_id" });
    const usable = healthy(await connectedInstances(d1, projectId, pool.id), settings);
    if (usable.length === 0) throw noNumber();
    const id = await rotate(usable, pool.strategy, settings, () => advancePoolCursor(d1, projectId, pool.id));
    return { instance_id: id, via: "pool" };
  }
  const usable = healthy(known.connected ? known.connected() : await connectedInstances(d1, projectId), settings);
  if (usable.length === 0) throw noNumber();
  const pick = () => rotate(usable, settings.rotation, settings, () => advanceProjectCursor(d1, projectId));
  if (!input.sticky) return { instance_id: await pick(), via: "rotation" };

  const ids = usable.map((i) => i.id);
  // Read ahead unless the phone's JID was not cached (or WhatsApp gave another): then read now.
  const row = known.stuck?.().find((r) => r.chat_jid === input.chat_jid);
  const number = row ? row.instance_id : await findChatNumber(env.DB, projectId, input.chat_jid);
  if (number && ids.includes(number)) return { instance_id: number, via: "sticky" };
  // No row: a chat stuck before chat_numbers existed has its number in its object (asked once: stick writes the row).
  const legacy = number ? null : await legacyNumber(env, projectId, input.chat_jid);
  if (legacy && ids.includes(legacy)) return { instance_id: await stick(env, projectId, input.chat_jid, legacy, ids), via: "sticky" };
  // Several first sends may race here: one transaction each, so the first pick is every one's.
  return { instance_id: await stick(env, projectId, input.chat_jid, await pick(), ids), via: "rotation" };
}

/**
 * The numbers that ask WhatsApp about phones for `POST /numbers/check`, in
 * the order to try them: the one rotation picks, as for a send, then the
 * project's other usable numbers, for when the first one's lookup budget is
 * spent. Empty when no number is connected and healthy.
 */
export async function lookupAskers(env: Env, projectId: string, settings: Settings): Promise<string[]> {
  const d1 = db(env.DB);
  const usable = healthy(await connectedInstances(d1, projectId), settings);
  if (usable.length === 0) return [];
  const first = await rotate(usable, settings.rotation, settings, () => advanceProjectCursor(d1, projectId));
  return [first, ...usable.map((r) => r.id).filter((id) => id !== first)];
}

const healthy = (rows: RotationCandidate[], settings: Settings) => rows.filter((r) => r.health >= settings.health_threshold);

const sentToday = (row: RotationCandidate, now: number) => (row.sent_day === dayKey(now) ? row.sent_today : 0);

/** The numbers rotation should choose among, best tier first. */
export function tiers(rows: RotationCandidate[], settings: Settings, now = Date.now()): RotationCandidate[] {
  const warming = (r: RotationCandidate) => warmingOf(settings, r.first_connected_at, now);
  const hasRoom = (r: RotationCandidate) => sentToday(r, now) < dailyLimit(settings, warming(r));
  const candidates = [
    rows.filter((r) => !warming(r) && hasRoom(r)),
    rows.filter((r) => warming(r) && hasRoom(r)),
    // Everyone is at a cap: still accept; the message waits for its number's cap to reset.
    rows,
  ];
  return candidates.find((tier) => tier.length > 0) ?? [];
}

export async function rotate(
  rows: RotationCandidate[],
  strategy: Strategy,
  settings: Settings,
  advanceCursor: () => Promise<number>,
  random = Math.random,
  now = Date.now(),
): Promise<string> {
  const tier = tiers(rows, settings, now);
  if (strategy === "round_robin") return tier[(await advanceCursor()) % tier.length]!.id;
  if (strategy === "least_used") {
    const sorted = [...tier].sort(
      (a, b) => sentToday(a, now) - sentToday(b, now) || (a.last_sent_at ?? "").localeCompare(b.last_sent_at ?? "") || a.id.localeCompare(b.id),
    );
    return sorted[0]!.id;
  }
  // health_weighted: a number twice as healthy gets about twice the traffic.
  const weights = tier.map((r) => r.health + 1);
  let ticket = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, row] of tier.entries()) {
    ticket -= weights[i]!;
    if (ticket < 0) return row.id;
  }
  return tier.at(-1)!.id;
}

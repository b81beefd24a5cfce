/**
 * A project's events are spread over `POMBO_EVENT_SHARDS` event hubs
 * (objects/hub.ts), so that its event rate scales with its numbers rather
 * than stopping at what one Durable Object does.
 *
 * - Every event of one number goes to the same hub (`shardOf` its
 *   `instance_id`; project-wide events to hub 0), so the order of a number's
 *   events, and with it of each of its conversations, is one hub's log order.
 * - The SSE id is then a position in every hub's log: their seqs, joined by
 *   dots (`12.0.7.3`), which `GET /events` resumes from exactly. With one hub
 *   (the default) it is that hub's seq, the id clients always had; and a
 *   plain seq is read as hub 0's position with the others at their start,
 *   which is exact for a project that had one hub until the setting rose.
 *
 * Why a setting, not the project's number of instances: a number's hub must
 * not change while its events are in flight or in a client's resume window,
 * and a count that follows the instances would move numbers between hubs
 * every time one is added. Raising it moves a share of the numbers once
 * (their order holds within each hub; across the change, a number's events
 * in flight in both may interleave); lowering it would orphan the last hubs'
 * logs, so don't.
 *
 * Plain TypeScript with no Worker types, so the end-to-end suites can ask
 * which hub a number's events go to.
 */

export const MAX_EVENT_SHARDS = 64;

/** Hubs per project, from POMBO_EVENT_SHARDS (1 when unset or not a whole number from 1 to 64). */
export function eventShards(env: { POMBO_EVENT_SHARDS?: string }): number {
  const n = Number(env.POMBO_EVENT_SHARDS ?? 1);
  return Number.isInteger(n) && n >= 1 && n <= MAX_EVENT_SHARDS ? n : 1;
}

/** The hub of a number's events (FNV-1a of its id): the same hub for as long as the count of hubs stays. */
export function shardOf(instanceId: string | null, shards: number): number {
  if (instanceId === null || shards === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < instanceId.length; i++) {
    hash ^= instanceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** The SSE id's form: one seq, or one per hub joined by dots (at most 64 of 15 digits each). */
export const EVENT_ID_PATTERN = /^\d{1,15}(\.\d{1,15}){0,63}$/;

/** Each hub's seq in an SSE id (hubs the id does not name: from their start). */
export function cursorsOf(eventId: string, shards: number): number[] {
  const named = eventId.split(".").map(Number);
  return Array.from({ length: shards }, (_, k) => named[k] ?? 0);
}

export const eventIdOf = (cursors: readonly number[]): string => cursors.join(".");

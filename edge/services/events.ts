/**
 * The project's events: what webhooks and SSE listeners receive.
 *
 * Every event is one JSON object, the same on every channel:
 *
 *   {
 *     "id": "evt_...",            // stable: the `webhook-id` header, the SSE id's source
 *     "type": "message.received",
 *     "created_at": "2026-...Z",
 *     "instance_id": "...",       // the number concerned (null for project-wide events)
 *     ...the type's own fields (event-catalogue.ts says which)
 *   }
 *
 * Producers call `publish`; the project's EventHub Durable Object (the one of
 * the event's number: event-shards.ts) keeps the log (SSE resume), fans out to
 * live SSE streams, and queues one webhook delivery per matching endpoint.
 * `publish` returns once all of that is durable, so a caller that got past it
 * has not lost the event.
 *
 * An event that announces a message's state has an id made from what it
 * announces (`eventIdOf`: the project, the type, the message and its status,
 * or the edit), not a random one. A producer that is not sure it announced
 * something (the object stopped between publishing and remembering it, an
 * answer was lost) simply publishes it again: the hub keeps one event per id
 * (its log's unique key), so the repeat makes no second SSE line and no
 * second webhook delivery, and nobody has to remember what went out. The
 * hub keeps an id while it keeps the event (72 hours, at most 100,000
 * events per hub: hub.ts); a repeat published after that is delivered again
 * with the SAME id, i.e. the same `webhook-id`, which Standard Webhooks
 * consumers dedupe on. A number's events all go to one hub (event-shards.ts),
 * so a repeat meets its first on the same shard (while the project's count
 * of hubs stays what it was). Events that may
 * legitimately happen twice for one message (reactions, group receipts per
 * participant, anything else) keep a random id.
 */
import { sha256Hex } from "../crypto.ts";
import type { Env } from "../env.ts";
import { hubOf } from "../objects/stubs.ts";
import type { EventFields, EventType } from "./event-catalogue.ts";
import { eventShards, shardOf } from "./event-shards.ts";

export { EVENT_TYPES, type EventFields, type EventType } from "./event-catalogue.ts";

export type EventOf<T extends EventType> = {
  id: string;
  type: T;
  created_at: string;
  instance_id: string | null;
} & EventFields[T];

export type PomboEvent = { [T in EventType]: EventOf<T> }[EventType];

/**
 * An event on its way to the hub: its JSON made once, by the publisher, which
 * the hub logs and webhooks carry as it is (a string crosses to the Durable
 * Object for less than the object it was made from).
 */
export type SealedEvent = { id: string; type: EventType; body: string };

export type NewEvent = { [T in EventType]: { type: T; instance_id: string | null } & EventFields[T] }[EventType];

/** Builds the event (id, created_at) and hands it to the project's hub; resolves once it is durable. */
export async function publish(env: Env, projectId: string, ...events: NewEvent[]): Promise<PomboEvent[]> {
  if (events.length === 0) return [];
  const created_at = new Date().toISOString();
  const built = events.map((e) => ({ id: eventIdOf(projectId, e), created_at, ...e }) as PomboEvent);
  const shards = eventShards(env);
  const byShard = new Map<number, SealedEvent[]>();
  for (const e of built) {
    const shard = shards === 1 ? 0 : shardOf(e.instance_id, shards);
    const sealed = byShard.get(shard) ?? byShard.set(shard, []).get(shard)!;
    sealed.push({ id: e.id, type: e.type, body: JSON.stringify(e) });
  }
  await Promise.all([...byShard].map(([shard, sealed]) => hubOf(env, projectId, shard).publish(projectId, sealed)));
  return built;
}

/** The statuses a message reaches at most once, so one `message.status` each. */
const ONCE_STATUSES: ReadonlySet<string> = new Set(["failed", "canceled", "delivered", "read", "played"]);

/** What makes this event the only one of its kind, or null when two alike may both happen (a random id then). */
function uniqueBy(e: NewEvent): string | null {
  switch (e.type) {
    case "message.received":
    case "message.sent":
      return e.payload.message_id;
    case "message.status":
      return ONCE_STATUSES.has(e.payload.status) ? `${e.payload.message_id}\n${e.payload.status}` : null;
    case "message.edited":
      // A message is edited many times; each edit has its own time (stored with it), author and body.
      return `${e.payload.message_id}\n${e.payload.edited_at}\n${e.payload.by}\n${e.payload.body}`;
    case "message.deleted":
      return e.payload.message_id;
    default:
      return null;
  }
}

/** The event's id: `evt_` and 32 hex digits, made from what it announces (see the header), else random. */
export function eventIdOf(projectId: string, e: NewEvent): string {
  const unique = uniqueBy(e);
  if (unique === null) return `evt_${crypto.randomUUID().replaceAll("-", "")}`;
  return `evt_${sha256Hex(`${projectId}\n${e.type}\n${unique}`).slice(0, 32)}`;
}

/** Does a webhook's filter (`message.received`, `message.*`, `*`) take this event type? */
export function matchesFilter(filters: readonly string[], type: string): boolean {
  return filters.some((f) => f === "*" || f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}

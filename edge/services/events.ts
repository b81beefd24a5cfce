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
 */
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
  const built = events.map((e) => ({ id: `evt_${crypto.randomUUID().replaceAll("-", "")}`, created_at, ...e }) as PomboEvent);
  const sealed = built.map((e): SealedEvent => ({ id: e.id, type: e.type, body: JSON.stringify(e) }));
  const shards = eventShards(env);
  if (shards === 1) await hubOf(env, projectId).publish(projectId, sealed);
  else {
    const byShard = new Map<number, SealedEvent[]>();
    built.forEach((e, i) => {
      const shard = shardOf(e.instance_id, shards);
      byShard.set(shard, [...(byShard.get(shard) ?? []), sealed[i]!]);
    });
    await Promise.all([...byShard].map(([shard, events]) => hubOf(env, projectId, shard).publish(projectId, events)));
  }
  return built;
}

/** Does a webhook's filter (`message.received`, `message.*`, `*`) take this event type? */
export function matchesFilter(filters: readonly string[], type: string): boolean {
  return filters.some((f) => f === "*" || f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}

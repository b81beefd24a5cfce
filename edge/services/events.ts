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
  const { built, byShard } = seal(env, projectId, events);
  await Promise.all([...byShard].map(([shard, sealed]) => hubOf(env, projectId, shard).publish(projectId, sealed)));
  return built;
}

/** The events built (ids, one created_at) and sealed, grouped by the hub each goes to. */
function seal(env: Env, projectId: string, events: NewEvent[]): { built: PomboEvent[]; byShard: Map<number, SealedEvent[]> } {
  const created_at = new Date().toISOString();
  const built = events.map((e) => ({ id: eventIdOf(projectId, e), created_at, ...e }) as PomboEvent);
  const shards = eventShards(env);
  const byShard = new Map<number, SealedEvent[]>();
  for (const e of built) {
    const shard = shards === 1 ? 0 : shardOf(e.instance_id, shards);
    byShard.set(shard, [...(byShard.get(shard) ?? []), { id: e.id, type: e.type, body: JSON.stringify(e) }]);
  }
  return { built, byShard };
}

/** Events per call to a hub at most, however many pile up behind one call. */
const MAX_BATCH = 100;

type Waiting = { events: SealedEvent[]; resolve: () => void; reject: (err: unknown) => void };

/**
 * `publish` for one Durable Object (the number's): what it publishes while
 * its call to a hub is out waits, and goes in that hub's next call together
 * with whatever else came meanwhile. A call from one object to another costs
 * ~1.2 ms of workerd CPU whatever it carries: 8 events in one call ~1.25 ms,
 * 8 calls at once ~3.8 (bench:costs), so messages received together (a
 * spool drained after an outage, chats writing at once) share calls. A
 * publish alone goes at once, as before. Each caller still resolves only once
 * its events are durable at the hub, and the hub logs them in the order they
 * were published. A call the hub refuses is tried again one publish at a
 * time, so an event the hub cannot take fails only its own publisher.
 * Inside one object only: a Worker's requests must not wait on each other's I/O.
 */
export class EventBatcher {
  readonly #env: Env;
  /** Per hub (project and shard): publishes waiting for the call out to come back. */
  readonly #waiting = new Map<string, Waiting[]>();

  constructor(env: Env) {
    this.#env = env;
  }

  readonly publish = async (projectId: string, ...events: NewEvent[]): Promise<PomboEvent[]> => {
    const { built, byShard } = seal(this.#env, projectId, events);
    await Promise.all([...byShard].map(([shard, sealed]) => this.#send(projectId, shard, sealed)));
    return built;
  };

  #send(projectId: string, shard: number, events: SealedEvent[]): Promise<void> {
    const key = `${projectId}#${shard}`;
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(key);
      if (waiting) return void waiting.push({ events, resolve, reject });
      this.#waiting.set(key, []);
      void this.#run(key, projectId, shard, [{ events, resolve, reject }]);
    });
  }

  /** Calls the hub with `batch`, then with what waited meanwhile, until nothing waits. */
  async #run(key: string, projectId: string, shard: number, batch: Waiting[]): Promise<void> {
    const waiting = this.#waiting.get(key)!;
    while (batch.length > 0) {
      const call = async (events: SealedEvent[]) => hubOf(this.#env, projectId, shard).publish(projectId, events);
      try {
        await call(batch.flatMap((w) => w.events));
        for (const w of batch) w.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        // One by one, in order, each on a fresh stub (one that threw may be broken).
        else for (const w of batch) await call(w.events).then(w.resolve, w.reject);
      }
      batch = [];
      let size = 0;
      while (waiting.length > 0 && (batch.length === 0 || size + waiting[0]!.events.length <= MAX_BATCH)) {
        const next = waiting.shift()!;
        batch.push(next);
        size += next.events.length;
      }
    }
    this.#waiting.delete(key);
  }
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

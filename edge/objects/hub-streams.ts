/**
 * The live SSE streams of one event hub (objects/hub.ts): each replays the
 * hub's log after the id it resumes from, then goes live with no gap and no
 * repeat: a stream takes live events only once its replay has caught up with
 * the log, and the hub writes the log before it fans an event out. Frames
 * leave in order, each with its media links signed as it leaves.
 */
import type { Env } from "../env.ts";
import { type PomboEvent, matchesFilter } from "../services/events.ts";
import { withFreshMediaLinks } from "../services/media-links.ts";

const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 200;
/** A listener this far behind (bytes waiting) is dropped; it can resume with Last-Event-ID. */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** One event as the hub's log holds it. */
export type Logged = { seq: number; type: string; body: string };

/** What the streams read of the hub's log. */
export type EventLog = {
  newestSeq(): number;
  /** Events up to this seq were trimmed away. */
  trimmedThrough(): number;
  /** Up to `limit` events after `seq`, in order. */
  after(seq: number, limit: number): Logged[];
};

type Listener = {
  controller: ReadableStreamDefaultController<Uint8Array>;
  types: string[] | null;
  /** The last seq this listener has been given (or skipped by its filter). */
  cursor: number;
  /** False while it replays the log: live events reach it through the replay. */
  live: boolean;
  closed: boolean;
  /** Frames leave in order, each after its media links are signed. */
  chain: Promise<void>;
  wake?: () => void;
};

const encoder = new TextEncoder();

export class EventStreams {
  #env: Env;
  #log: EventLog;
  #listeners = new Set<Listener>();
  #heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(env: Env, log: EventLog) {
    this.#env = env;
    this.#log = log;
  }

  /** How many streams are open. */
  get size(): number {
    return this.#listeners.size;
  }

  /** A stream from the log after `after` (null: live from now), of the `types` given (null: all). */
  open(after: number | null, types: string[] | null): Response {
    let listener!: Listener;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          listener = { controller, types, cursor: 0, live: false, closed: false, chain: Promise.resolve() };
        },
        pull: () => listener.wake?.(),
        cancel: () => this.#drop(listener),
      },
      { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
    );
    this.#write(listener, "retry: 3000\n\n");
    if (after === null) {
      listener.cursor = this.#log.newestSeq();
      listener.live = true;
    } else {
      // An id from beyond the log (another store, a reset) resumes from what the log has.
      listener.cursor = Math.min(after, this.#log.newestSeq());
      const trimmed = this.#log.trimmedThrough();
      if (after < trimmed) {
        // Some events after `after` are gone: say so, then give what is left.
        this.#write(listener, `event: gap\ndata: ${JSON.stringify({ last_event_id: after, resumed_after: trimmed })}\n\n`);
      }
      listener.chain = this.#replay(listener).catch(() => this.#drop(listener));
    }
    this.#listeners.add(listener);
    this.#startHeartbeat();
    return new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
    });
  }

  /** Events just logged, to every live stream that wants them. */
  fanOut(logged: Logged[]): void {
    const frames = new Map<number, Promise<string>>();
    for (const listener of this.#listeners) {
      if (!listener.live) continue;
      for (const row of logged) {
        if (row.seq <= listener.cursor) continue;
        listener.cursor = row.seq;
        if (!this.#wants(listener, row.type)) continue;
        let frame = frames.get(row.seq);
        if (!frame) frames.set(row.seq, (frame = this.#frame(row)));
        listener.chain = listener.chain.then(async () => this.#write(listener, await frame)).catch(() => this.#drop(listener));
      }
    }
  }

  async #replay(listener: Listener): Promise<void> {
    for (;;) {
      const rows = this.#log.after(listener.cursor, REPLAY_PAGE);
      if (rows.length === 0) {
        // Caught up, in the same turn as the empty read: from here on, live events are this listener's.
        listener.live = true;
        return;
      }
      for (const row of rows) {
        if (listener.closed) return;
        listener.cursor = row.seq;
        if (this.#wants(listener, row.type)) this.#write(listener, await this.#frame(row));
      }
      await this.#drained(listener);
    }
  }

  #wants(listener: Listener, type: string): boolean {
    return listener.types === null || matchesFilter(listener.types, type);
  }

  /** `id: <seq>`, `event: <type>`, `data: <event>`, with media links signed now. */
  async #frame(row: Logged): Promise<string> {
    const event = JSON.parse(row.body) as PomboEvent;
    // Without POMBO_DATA_KEY no link can be signed: the event still goes out, as stored.
    const fresh = await withFreshMediaLinks(this.#env, event).catch(() => event);
    return `id: ${row.seq}\nevent: ${row.type}\ndata: ${fresh === event ? row.body : JSON.stringify(fresh)}\n\n`;
  }

  #write(listener: Listener, text: string): void {
    if (listener.closed) return;
    try {
      listener.controller.enqueue(encoder.encode(text));
      if ((listener.controller.desiredSize ?? 0) < -MAX_BUFFERED) this.#drop(listener);
    } catch {
      this.#drop(listener);
    }
  }

  /** Waits until the client has read what the replay queued (or has gone). */
  async #drained(listener: Listener): Promise<void> {
    while (!listener.closed && (listener.controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((resolve) => {
        listener.wake = resolve;
        setTimeout(resolve, 250);
      });
    }
  }

  #drop(listener: Listener): void {
    if (!listener.closed) {
      try {
        listener.controller.close();
      } catch {
        // cancelled by the client: nothing to close
      }
    }
    listener.closed = true;
    listener.wake?.();
    this.#listeners.delete(listener);
    if (this.#listeners.size === 0 && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = null;
    }
  }

  #startHeartbeat(): void {
    if (this.#heartbeat) return;
    // A comment line: keeps proxies from closing an idle stream, and finds clients that left.
    this.#heartbeat = setInterval(() => {
      for (const listener of this.#listeners) this.#write(listener, ": keep-alive\n\n");
    }, HEARTBEAT_MS);
  }
}

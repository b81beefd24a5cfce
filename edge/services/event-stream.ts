/**
 * `GET /events`: a project's events as Server-Sent Events, served by its hub
 * (see objects/hub.ts). With several hubs (services/event-shards.ts), one
 * stream per hub, merged here: frames pass whole, in each hub's order, and
 * each merged frame's id is every hub's position so far, so a resume from it
 * replays exactly what each hub had not given yet.
 */
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { hubOf, hubsOf } from "../objects/stubs.ts";
import { cursorsOf, eventIdOf, eventShards } from "./event-shards.ts";
import { isKnownFilter } from "./webhooks.ts";

export type StreamRequest = { lastEventId?: string; types?: string };

const HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

/** The `types` query (`message.*,instance.disconnected`): the same names and wildcards as webhook filters. */
function parseTypes(types: string): string[] {
  const filters = types
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = filters.filter((f) => !isKnownFilter(f));
  if (unknown.length > 0) {
    throw new ApiError(400, "invalid_request", `types: unknown event type: ${unknown.join(", ")}`, { field: "types", unknown });
  }
  return filters;
}

export async function openEventStream(env: Env, projectId: string, { lastEventId, types }: StreamRequest, signal: AbortSignal) {
  const url = new URL("https://hub/events");
  if (types !== undefined) {
    const filters = parseTypes(types);
    if (filters.length > 0) url.searchParams.set("types", filters.join(","));
  }
  const shards = eventShards(env);
  if (shards === 1) {
    // A seq, or the first hub's position in a dotted id (the project had more hubs once).
    if (lastEventId !== undefined) url.searchParams.set("after", String(cursorsOf(lastEventId, 1)[0]));
    // The hub's stream is the answer's body: the client leaving cancels it, and the hub forgets the listener.
    return hubOf(env, projectId).fetch(new Request(url, { signal }));
  }
  const hubs = hubsOf(env, projectId);
  // Without an id the stream starts live; each hub's newest seq is then where its part of the id starts.
  const cursors = lastEventId !== undefined ? cursorsOf(lastEventId, shards) : await Promise.all(hubs.map((hub) => hub.newestSeq()));
  const streams = await Promise.all(
    hubs.map(async (hub, k) => {
      const own = new URL(url);
      own.searchParams.set("after", String(cursors[k]));
      const res = await hub.fetch(new Request(own, { signal }));
      if (!res.body) throw new Error(`event hub ${k} answered ${res.status} without a stream`);
      return res.body;
    }),
  );
  return new Response(merged(streams, cursors, lastEventId), { headers: HEADERS });
}

/**
 * The hubs' streams as one. Each hub writes whole frames; a frame with an id
 * moves that hub's cursor, and leaves with the id of all cursors. The retry
 * hint is said once, heartbeats come from hub 0 only, and a gap frame names
 * its hub. When one hub's stream ends (it dropped a slow reader, or went
 * away), the whole stream ends: the client resumes from its last id.
 */
function merged(streams: ReadableStream<Uint8Array>[], cursors: number[], lastEventId: string | undefined): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const readers = streams.map((s) => s.getReader());
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let waiting: (() => void)[] = [];
  const wake = () => {
    const all = waiting;
    waiting = [];
    for (const resolve of all) resolve();
  };
  const end = () => {
    if (closed) return;
    closed = true;
    for (const reader of readers) reader.cancel().catch(() => {});
    try {
      controller.close();
    } catch {
      // cancelled by the client: nothing to close
    }
    wake();
  };
  const out = new ReadableStream<Uint8Array>(
    { start: (c) => void (controller = c), pull: wake, cancel: end },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
  const send = (text: string) => {
    if (!closed) controller.enqueue(encoder.encode(text));
  };
  /** Waits while the client has not read what is queued (the hubs' streams then fill, and they drop a reader too slow). */
  const drained = async () => {
    while (!closed && (controller.desiredSize ?? 1) <= 0) await new Promise<void>((resolve) => waiting.push(resolve));
  };
  send("retry: 3000\n\n");

  const frameOf = (shard: number, frame: string): string | null => {
    if (frame.startsWith("id: ")) {
      const lineEnd = frame.indexOf("\n");
      cursors[shard] = Number(frame.slice(4, lineEnd));
      return `id: ${eventIdOf(cursors)}${frame.slice(lineEnd)}\n\n`;
    }
    if (frame.startsWith("event: gap\n")) {
      const gap = JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as { resumed_after: number };
      return `event: gap\ndata: ${JSON.stringify({ last_event_id: lastEventId, shard, resumed_after: gap.resumed_after })}\n\n`;
    }
    if (frame.startsWith(":")) return shard === 0 ? `${frame}\n\n` : null;
    return null; // the hub's own retry hint
  };

  readers.forEach(async (reader, shard) => {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || closed) break;
        buffered += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffered.indexOf("\n\n")) >= 0) {
          const frame = frameOf(shard, buffered.slice(0, cut));
          buffered = buffered.slice(cut + 2);
          // Queued in the same step as its cursor moved: ids leave in the order their frames do.
          if (frame !== null) send(frame);
        }
        await drained();
      }
    } catch {
      // the hub's stream broke: this stream is over
    }
    end();
  });
  return out;
}

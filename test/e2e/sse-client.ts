/**
 * A minimal SSE listener for `GET /events`: fetch + eventsource-parser, so
 * the test controls `Last-Event-ID` and when the stream is dropped.
 */
import { createParser } from "eventsource-parser";
import { GrowingList } from "../harness/waits.ts";

export type SseEvent = { id: string | undefined; event: string | undefined; data: any };

export type SseListener = {
  events: SseEvent[];
  lastId(): string | undefined;
  waitFor(predicate: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
};

export async function listen(baseUrl: string, token: string, opts: { lastEventId?: string; query?: string } = {}): Promise<SseListener> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/events${opts.query ?? ""}`, {
    headers: {
      authorization: `Bearer ${token}`,
      accept: "text/event-stream",
      ...(opts.lastEventId ? { "last-event-id": opts.lastEventId } : {}),
    },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`GET /events answered ${res.status}: ${await res.text()}`);
  const events: SseEvent[] = [];
  const growing = new GrowingList(() => events);
  const parser = createParser({
    onEvent: (e) => {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        /* kept as text */
      }
      events.push({ id: e.id, event: e.event, data });
      growing.grew();
    },
  });
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      /* aborted */
    }
  })();
  return {
    events,
    lastId: () => events.filter((e) => e.id !== undefined).at(-1)?.id,
    waitFor: (predicate, timeoutMs = 15_000) =>
      growing.first(predicate, timeoutMs, () => `no matching SSE event within ${timeoutMs} ms (got ${events.length})`),
    close: () => abort.abort(),
  };
}

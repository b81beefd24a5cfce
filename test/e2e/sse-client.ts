/**
 * A minimal SSE listener for `GET /events`: fetch + eventsource-parser, so
 * the test controls `Last-Event-ID` and when the stream is dropped.
 */
import { createParser } from "eventsource-parser";

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
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent: (e) => {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        /* kept as text */
      }
      events.push({ id: e.id, event: e.event, data });
      for (const wake of waiters) wake();
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
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching SSE event within ${timeoutMs} ms (got ${events.length})`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => abort.abort(),
  };
}

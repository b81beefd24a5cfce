/** Reads an SSE answer in the workerd suites: frames as they arrive (comments, i.e. heartbeats, left out). */
import { createParser } from "eventsource-parser";
import { waitFor } from "./helpers.ts";

export type Frame = { id: string | undefined; event: string | undefined; data: any };

/** `paused`: the reader starts only at `resume()` (a slow client). */
export function readFrames(res: Response, { paused = false } = {}) {
  if (res.status !== 200 || !res.body) throw new Error(`GET /events: ${res.status}`);
  const frames: Frame[] = [];
  const parser = createParser({
    onEvent: (e) => frames.push({ id: e.id, event: e.event, data: JSON.parse(e.data) }),
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let resume!: () => void;
  const reading = paused ? new Promise<void>((r) => (resume = r)) : Promise.resolve();
  let ended = false;
  void (async () => {
    await reading;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // cancelled
    }
    ended = true;
  })();
  return {
    res,
    frames,
    async until(n: number, what = `${n} frames`) {
      await waitFor(() => frames.length >= n, 3_000, what);
      return frames;
    },
    /** Has the server ended the stream? */
    ended: () => ended,
    resume: () => resume(),
    close: () => reader.cancel(),
  };
}

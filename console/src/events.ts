/**
 * Live events for the console. A browser's EventSource cannot send an
 * Authorization header, so each connection first trades the API key for a
 * short-lived, single-use stream token (`POST /events/token`) and opens
 * `/events?stream_token=...`. When the stream drops, EventSource's own retry
 * would reuse a spent token, so we close it and open a new one with a fresh
 * token, resuming after the last event seen: nothing is missed.
 */
import { useEffect, useRef } from "preact/hooks";
import { api, withQuery } from "./api.ts";

/** An event as webhooks and SSE carry it: its own fields sit beside these (see the OpenAPI `webhooks`). */
export interface PomboEvent {
  id: string;
  type: string;
  created_at: string;
  instance_id: string | null;
  [field: string]: unknown;
}

export type StreamState = "connecting" | "live" | "retrying";

const RETRY_MS = 2_000;

export function openEvents(
  types: string[],
  onEvent: (event: PomboEvent) => void,
  onState: (state: StreamState) => void = () => {},
): () => void {
  let source: EventSource | null = null;
  let lastId: string | undefined;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = async () => {
    if (closed) return;
    onState(lastId === undefined ? "connecting" : "retrying");
    try {
      const { token } = await api<{ token: string }>("/events/token", { method: "POST", body: {} });
      if (closed) return;
      source = new EventSource(withQuery("/events", { stream_token: token, types: types.join(","), last_event_id: lastId }));
    } catch {
      timer = setTimeout(connect, RETRY_MS);
      return;
    }
    source.onopen = () => onState("live");
    const handle = (frame: MessageEvent<string>) => {
      if (frame.lastEventId) lastId = frame.lastEventId;
      try {
        onEvent(JSON.parse(frame.data) as PomboEvent);
      } catch {
        // A frame that is not an event (a gap notice) carries nothing to show.
      }
    };
    source.onmessage = handle;
    // Frames are named by their type, so each type needs its own listener (no wildcards here).
    for (const type of types) source.addEventListener(type, handle as EventListener);
    source.onerror = () => {
      source?.close();
      source = null;
      if (!closed) timer = setTimeout(connect, RETRY_MS);
    };
  };

  void connect();
  return () => {
    closed = true;
    clearTimeout(timer);
    source?.close();
  };
}

/**
 * Calls `onEvent` for each live event of these types while the view is shown,
 * and `onState` as the stream connects. A first connection streams only what
 * comes after it opens: a view that loaded before then reads again on "live".
 */
export function useEvents(types: string[], onEvent: (event: PomboEvent) => void, onState?: (state: StreamState) => void) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const stateHandler = useRef(onState);
  stateHandler.current = onState;
  const key = types.join(",");
  useEffect(() => openEvents(types, (e) => handler.current(e), (state) => stateHandler.current?.(state)), [key]);
}

/** What keeps the Inbox and Messages views current: the message events, and one refresh per burst of them. */
import { useEffect, useRef } from "preact/hooks";

/** Every event that adds a message or changes one (each type named: the stream takes no wildcards). */
export const MESSAGE_EVENTS = ["message.received", "message.sent", "message.status", "message.edited", "message.deleted"];

/** `fn`, run once after calls stop coming for `ms`: a burst of events makes one refresh. */
export function useDebounced(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current(), ms);
  };
}

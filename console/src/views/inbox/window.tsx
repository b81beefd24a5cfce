/**
 * The customer-service window: WhatsApp lets a business write freely for 24
 * hours after the customer's last message. Shown with the time left, kept
 * current while the page is open.
 */
import { useEffect, useState } from "preact/hooks";
import type { Conversation } from "../../types.ts";

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function timeLeft(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

export function WindowNote({ conversation: c, short }: { conversation: Conversation; short?: boolean }) {
  const now = useNow(30_000);
  if (!c.window_expires_at) return <>{short ? "never opened" : "24-hour window closed: the customer has not written yet."}</>;
  // Never more than the 24 hours it lasts, whatever the clocks say.
  const left = Math.min(Date.parse(c.window_expires_at) - now, 24 * 3_600_000);
  if (left <= 0) return <>{short ? "closed" : "24-hour window closed: it reopens when the customer writes again."}</>;
  return <>{short ? `${timeLeft(left)} left` : `24-hour window open: ${timeLeft(left)} left to reply.`}</>;
}

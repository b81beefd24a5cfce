/**
 * How fast one number may send. Pure arithmetic, so the rules can be read
 * (and tested) apart from the Durable Object that applies them.
 *
 * WhatsApp bans numbers that send like machines: evenly spaced bursts,
 * no typing, hundreds of messages on day one. So a number waits a random gap
 * between sends, "types" before text, stays under hourly and daily caps, and
 * a fresh number's daily cap starts small and grows over its warming days.
 */
import type { Settings } from "./settings-schema.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The random wait after a send. */
export function nextGapMs(settings: Settings, random = Math.random): number {
  if (!settings.pacing.enabled) return 0;
  const { min_gap_ms, max_gap_ms } = settings.pacing;
  return Math.round(min_gap_ms + random() * (max_gap_ms - min_gap_ms));
}

/** How long to show "typing..." before a text: about a fast typist's speed, bounded. */
export function typingMs(settings: Settings, text: string, random = Math.random): number {
  if (!settings.pacing.enabled || !settings.pacing.typing) return 0;
  const perChar = 35 + random() * 30;
  return Math.round(Math.min(8_000, Math.max(800, text.length * perChar)));
}

export type Warming = { day: number; daily_limit: number; ends_at: string };

/** Null when the number is warmed (or never connected: it has not started warming). */
export function warmingOf(settings: Settings, firstConnectedAt: string | null, now = Date.now()): Warming | null {
  if (!firstConnectedAt || settings.warming_days === 0) return null;
  const started = Date.parse(firstConnectedAt);
  const endsAt = started + settings.warming_days * DAY_MS;
  if (now >= endsAt) return null;
  const day = Math.floor((now - started) / DAY_MS) + 1;
  const limit = Math.round(settings.warming_first_day_limit * settings.warming_growth ** (day - 1));
  return { day, daily_limit: Math.min(limit, settings.caps.daily), ends_at: new Date(endsAt).toISOString() };
}

export const dailyLimit = (settings: Settings, warming: Warming | null) => warming?.daily_limit ?? settings.caps.daily;

/** Sends counted per UTC hour and day. */
export type Usage = { hour: string; hour_count: number; day: string; day_count: number; last_sent_at: number };

export const hourKey = (now: number) => new Date(now).toISOString().slice(0, 13);
export const dayKey = (now: number) => new Date(now).toISOString().slice(0, 10);

export function countSend(usage: Usage | undefined, now: number): Usage {
  const hour = hourKey(now);
  const day = dayKey(now);
  return {
    hour,
    hour_count: usage?.hour === hour ? usage.hour_count + 1 : 1,
    day,
    day_count: usage?.day === day ? usage.day_count + 1 : 1,
    last_sent_at: now,
  };
}

export const sentToday = (usage: Usage | undefined, now: number) => (usage?.day === dayKey(now) ? usage.day_count : 0);

/**
 * When the next send may go: now, after the gap since the last send, or
 * when the hour's or the day's cap resets. Pacing off lifts the gap only;
 * caps always hold (they are what keeps a number alive).
 */
export function nextSendAt(
  settings: Settings,
  usage: Usage | undefined,
  gapMs: number,
  firstConnectedAt: string | null,
  now = Date.now(),
): number {
  let at = now;
  if (usage) at = Math.max(at, usage.last_sent_at + gapMs);
  const daily = dailyLimit(settings, warmingOf(settings, firstConnectedAt, now));
  if (usage?.day === dayKey(now) && usage.day_count >= daily) {
    at = Math.max(at, Date.parse(`${usage.day}T00:00:00.000Z`) + DAY_MS);
  }
  if (usage?.hour === hourKey(now) && usage.hour_count >= settings.caps.hourly) {
    at = Math.max(at, Date.parse(`${usage.hour}:00:00.000Z`) + HOUR_MS);
  }
  return at;
}

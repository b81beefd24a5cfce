/**
 * A number's hourly budget of phone lookups ("is this number on WhatsApp?"),
 * kept in its Durable Object's storage. Bulk lookups are a known cause of
 * bans, so every lookup through the number counts here, whoever asked
 * (`POST /numbers/check`, or a send whose recipient was not cached). The
 * budget is the project's `caps.lookups_hourly`, per UTC hour like the send
 * caps (services/pacing.ts); a batch is taken whole or not at all, so an
 * answer is never partial.
 */
import { hourKey } from "../services/pacing.ts";
import type { InstanceStorage } from "./instance-storage.ts";

const HOUR_MS = 3_600_000;

/** Lookups counted in one UTC hour. */
export type LookupUsage = { hour: string; count: number };

export type Spent = { ok: true; remaining: number } | { ok: false; remaining: number; retry_after_s: number };

/** Takes `count` lookups from the hour's `limit`, or says how long until the hour frees them. */
export function spendLookups(usage: LookupUsage | undefined, count: number, limit: number, now: number): { usage: LookupUsage; spent: Spent } {
  const hour = hourKey(now);
  const used = usage?.hour === hour ? usage.count : 0;
  if (used + count > limit) {
    const resetAt = Date.parse(`${hour}:00:00.000Z`) + HOUR_MS;
    return { usage: { hour, count: used }, spent: { ok: false, remaining: Math.max(0, limit - used), retry_after_s: Math.max(1, Math.ceil((resetAt - now) / 1000)) } };
  }
  return { usage: { hour, count: used + count }, spent: { ok: true, remaining: limit - used - count } };
}

export class LookupBudget {
  readonly #storage: InstanceStorage;

  constructor(storage: InstanceStorage) {
    this.#storage = storage;
  }

  async spend(count: number, limit: number, now = Date.now()): Promise<Spent> {
    const { usage, spent } = spendLookups(await this.#storage.get("lookups"), count, limit, now);
    if (spent.ok) await this.#storage.put("lookups", usage);
    return spent;
  }
}

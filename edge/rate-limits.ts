/**
 * Request budgets of the project audience, counted by Workers' Rate Limiting
 * binding (wrangler.toml `[[ratelimits]]`; `wrangler dev` and the workerd
 * tests run the same binding locally). They are checked in auth.ts before
 * the key is looked up, so a client that runs wild is answered 429 without
 * costing D1 anything:
 * - KEY_RATE_LIMIT: requests per API key (counted on its hash, never the key);
 * - BAD_KEY_RATE_LIMIT: unknown or revoked keys per client address. Every
 *   unknown key is a fresh one to the per-key count, so a flood of made-up
 *   keys is bounded by where it comes from instead.
 * A binding's limit and period live in wrangler.toml alone (the runtime
 * exposes neither), except that Retry-After must say the period: RATE_LIMIT_PERIOD_S
 * below, which test/shared/rate-limit-config.test.ts holds equal to the toml.
 */
import ipaddr from "ipaddr.js";
import { RateLimited } from "./errors.ts";

/** A Rate Limiting binding, as much of it as this uses (written out: test/shared reads this file outside the Workers types). */
type Limiter = { limit(options: { key: string }): Promise<{ success: boolean }> };

/** The period of both bindings, in seconds (Cloudflare takes 10 or 60). */
export const RATE_LIMIT_PERIOD_S = 10;

/** Counts one request for `key`; past the binding's budget, 429 `rate_limited`. */
export async function spend(limiter: Limiter, key: string, message: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success) throw new RateLimited(RATE_LIMIT_PERIOD_S, message);
}

/**
 * Addresses that spent their unknown-key budget, in this isolate. The binding
 * can only count (there is no asking without spending), so once it says an
 * address is over, the isolate turns that address's next lookups away itself
 * for a period, before D1. Each isolate learns it on its first failure after
 * that: D1 sees at most the budget plus one lookup per isolate per period.
 */
const overBudget = new Map<string, number>();

const badKeyMessage = "too many unknown or revoked API keys from this address: check the key, then try again after Retry-After";

/** Before a key lookup: refuses an address that is known to be over its unknown-key budget. */
export function checkBadKeyBudget(address: string): void {
  const until = overBudget.get(address);
  if (until === undefined) return;
  if (until > Date.now()) throw new RateLimited(RATE_LIMIT_PERIOD_S, badKeyMessage);
  overBudget.delete(address);
}

/** After a lookup found no key: counts it against the address. */
export async function spendBadKey(limiter: Limiter, address: string): Promise<void> {
  const { success } = await limiter.limit({ key: address });
  if (success) return;
  if (overBudget.size > 10_000) overBudget.clear();
  overBudget.set(address, Date.now() + RATE_LIMIT_PERIOD_S * 1000);
  throw new RateLimited(RATE_LIMIT_PERIOD_S, badKeyMessage);
}

/**
 * Who is asking: Cloudflare's `CF-Connecting-IP`. An IPv6 client holds a
 * whole /64, so that is what counts; without the header (a local run), one
 * shared bucket.
 */
export function clientAddress(header: string | undefined): string {
  if (!header || !ipaddr.isValid(header)) return "unknown";
  const address = ipaddr.process(header);
  if (address.kind() === "ipv4") return address.toString();
  return `${(address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(":")}::/64`;
}

/**
 * The Rate Limiting bindings' periods live in wrangler.toml, which the
 * Worker cannot read; Retry-After is RATE_LIMIT_PERIOD_S. This holds the two
 * equal, so an operator who changes a period and forgets the code is told.
 */
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";
import { RATE_LIMIT_PERIOD_S } from "../../edge/rate-limits.ts";

describe("rate limit config", () => {
  it("declares both budgets in wrangler.toml with the period Retry-After says", () => {
    const config = unstable_readConfig({ config: fileURLToPath(new URL("../../wrangler.toml", import.meta.url)) });
    const limits = Object.fromEntries(config.ratelimits.map((binding: { name: string; simple: { period: number } }) => [binding.name, binding.simple]));
    expect(Object.keys(limits).sort()).toEqual(["BAD_KEY_RATE_LIMIT", "KEY_RATE_LIMIT"]);
    for (const [name, simple] of Object.entries(limits)) expect(simple.period, name).toBe(RATE_LIMIT_PERIOD_S);
  });
});

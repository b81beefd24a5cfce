import { describe, expect, it } from "vitest";
import { BACKOFF, backoffDelay, classifyClose } from "../../fleet/close-codes.ts";

describe("what a closed WhatsApp socket means", () => {
  it.each([
    [401, "logged_out", false],
    [402, "banned", false],
    [403, "banned", false],
    [406, "banned", false],
    [408, "transient", true],
    [428, "transient", true],
    [440, "transient", true],
    [500, "transient", true],
    [503, "transient", true],
    [515, "transient", true],
    [405, "transient", true],
    [null, "transient", true],
  ])("close code %s -> %s (reconnect: %s)", (code, reason, reconnect) => {
    const action = classifyClose(code);
    expect(action.reason).toBe(reason);
    expect(action.reconnect).toBe(reconnect);
  });

  it("reconnects at once after 515, slowly after 440 (never a fight over the session), and refreshes the version on 405", () => {
    expect(classifyClose(515)).toMatchObject({ delay: "now" });
    expect(classifyClose(440)).toMatchObject({ delay: "slow" });
    expect(classifyClose(405)).toMatchObject({ refreshVersion: true });
    expect(classifyClose(408)).toMatchObject({ delay: "backoff", refreshVersion: false });
  });

  it("backs off exponentially with jitter, up to a cap", () => {
    const { baseMs, maxMs } = BACKOFF.backoff;
    expect(backoffDelay(0, BACKOFF.backoff, () => 0)).toBe(baseMs / 2);
    expect(backoffDelay(0, BACKOFF.backoff, () => 1)).toBe(baseMs);
    expect(backoffDelay(3, BACKOFF.backoff, () => 1)).toBe(baseMs * 8);
    expect(backoffDelay(30, BACKOFF.backoff, () => 1)).toBe(maxMs);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, BACKOFF.backoff)));
    expect(spread.size).toBeGreaterThan(10);
    expect(backoffDelay(0, BACKOFF.slow, () => 0)).toBeGreaterThanOrEqual(15_000);
  });
});

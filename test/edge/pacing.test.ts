import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { healthScore, recordIncident } from "../../edge/services/health.ts";
import { countSend, nextGapMs, nextSendAt, typingMs, warmingOf } from "../../edge/services/pacing.ts";
import { Settings } from "../../edge/services/settings-schema.ts";
import { call, connectedFleet, messageOf, newInstance, newProject, waitFor } from "./helpers.ts";

const settings = (patch: object = {}) => Settings.parse(patch);
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe("pacing rules", () => {
  it("waits a random gap between min and max, and none with pacing off", () => {
    const s = settings({ pacing: { min_gap_ms: 1000, max_gap_ms: 5000 } });
    expect(nextGapMs(s, () => 0)).toBe(1000);
    expect(nextGapMs(s, () => 1)).toBe(5000);
    expect(nextGapMs(settings({ pacing: { enabled: false } }))).toBe(0);
  });

  it("types longer for longer texts, within bounds, and not at all with typing or pacing off", () => {
    const s = settings();
    expect(typingMs(s, "ok", () => 0)).toBe(800);
    expect(typingMs(s, "x".repeat(100), () => 0)).toBe(3500);
    expect(typingMs(s, "x".repeat(10_000))).toBe(8000);
    expect(typingMs(settings({ pacing: { typing: false } }), "hello")).toBe(0);
    expect(typingMs(settings({ pacing: { enabled: false } }), "hello")).toBe(0);
  });

  it("holds sends to the hourly and daily caps, until the next hour or day", () => {
    const s = settings({ caps: { hourly: 2, daily: 3 } });
    const t0 = Date.parse("2026-11-21T10:15:00Z");
    let usage = countSend(undefined, t0);
    expect(nextSendAt(s, usage, 0, null, t0)).toBe(t0);
    usage = countSend(usage, t0);
    expect(nextSendAt(s, usage, 0, null, t0)).toBe(Date.parse("2026-11-21T11:00:00Z"));
    usage = countSend(usage, Date.parse("2026-11-21T11:05:00Z"));
    expect(nextSendAt(s, usage, 0, null, Date.parse("2026-11-21T11:06:00Z"))).toBe(Date.parse("2026-11-22T00:00:00Z"));
  });

  it("warms a new number: small caps growing daily for warming_days, then the normal cap", () => {
    const s = settings({ warming_days: 5, warming_first_day_limit: 30, warming_growth: 2, caps: { daily: 1000 } });
    const start = Date.parse("2026-11-01T00:00:00Z");
    const first = new Date(start).toISOString();
    expect(warmingOf(s, first, start + HOUR)).toMatchObject({ day: 1, daily_limit: 30 });
    expect(warmingOf(s, first, start + DAY + HOUR)).toMatchObject({ day: 2, daily_limit: 60 });
    expect(warmingOf(s, first, start + 4 * DAY + HOUR)).toMatchObject({ day: 5, daily_limit: 480 });
    expect(warmingOf(s, first, start + 5 * DAY + HOUR)).toBeNull();
    expect(warmingOf(s, null)).toBeNull();
    // A warming number at its day's limit waits for the next day.
    const now = start + 2 * HOUR;
    let usage = countSend(undefined, now);
    for (let i = 1; i < 30; i++) usage = countSend(usage, now);
    expect(nextSendAt(s, usage, 0, first, now)).toBe(start + DAY);
  });

  it("scores health from recent incidents, recovering as they fade, and a ban is final", () => {
    const now = Date.now();
    let incidents = recordIncident([], "disconnect", now);
    expect(healthScore(incidents, now)).toBe(90);
    incidents = recordIncident(incidents, "server_error", now);
    expect(healthScore(incidents, now)).toBe(60);
    expect(healthScore(incidents, now + DAY / 2)).toBe(80);
    expect(healthScore(incidents, now + DAY)).toBe(100);
    expect(healthScore(recordIncident(incidents, "banned", now), now + 10 * DAY)).toBe(0);
  });
});

describe("a number paces its own queue", () => {
  it("sends the first message now, holds the next for the gap, and types before text", async () => {
    const { api_key: key } = await newProject();
    await call("/settings", { method: "PATCH", token: key, body: { pacing: { enabled: true, min_gap_ms: 60_000, max_gap_ms: 60_000 } } });
    const { id } = await newInstance(key);
    const fleet = await connectedFleet(id);
    const to = "5511988887777@s.whatsapp.net";
    const a = await call("/messages/text", { method: "POST", token: key, body: { to, body: "first message" } });
    const b = await call("/messages/text", { method: "POST", token: key, body: { to, body: "second" } });
    await waitFor(async () => (await messageOf(key, a.json.id)).status === "sent");
    expect(fleet.sends).toHaveLength(1);
    expect(fleet.sends[0]!.typing_ms).toBeGreaterThanOrEqual(800);
    await new Promise((r) => setTimeout(r, 200));
    expect((await messageOf(key, b.json.id)).status).toBe("queued");
    // The new contact's picture fetch (objects/avatars.ts) shares the object's one alarm, set for its own pace
    // a few seconds out: out of the way, the alarm rings early (harmless), and what it is set for next is the send's.
    const stub = instanceOf(env, id);
    await runInDurableObject(stub, (_o, state) => void state.storage.sql.exec("DELETE FROM avatar_fetches"));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await messageOf(key, b.json.id)).status).toBe("queued");
    const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    expect(alarm! - Date.now()).toBeGreaterThan(55_000);
    expect(alarm! - Date.now()).toBeLessThanOrEqual(60_000);
    const instance = (await call(`/instances/${id}`, { token: key })).json;
    expect(instance.sent_today).toBe(1);
    expect(instance.warming).toMatchObject({ day: 1, sent_today: 1 });
  });
});

describe("rotation strategies", () => {
  const row = (id: string, health: number, sent_today = 0) => ({
    id,
    health,
    first_connected_at: null,
    sent_today,
    sent_day: new Date().toISOString().slice(0, 10),
    last_sent_at: null,
  });

  it("health_weighted gives a number traffic in proportion to its health", async () => {
    const { rotate } = await import("../../edge/services/selector.ts");
    const rows = [row("strong", 99), row("weak", 49)];
    const picks: Record<string, number> = { strong: 0, weak: 0 };
    // Evenly spread draws stand in for chance: the split is exact, not lucky.
    for (let i = 0; i < 150; i++) {
      const id = await rotate(rows, "health_weighted", settings(), async () => 0, () => (i + 0.5) / 150);
      picks[id]!++;
    }
    expect(picks).toEqual({ strong: 100, weak: 50 });
  });

  it("least_used picks the number that sent least today; round_robin follows the cursor", async () => {
    const { rotate } = await import("../../edge/services/selector.ts");
    const rows = [row("a", 100, 7), row("b", 100, 2), row("c", 100, 5)];
    expect(await rotate(rows, "least_used", settings(), async () => 0)).toBe("b");
    const order = [];
    for (let cursor = 1; cursor <= 4; cursor++) order.push(await rotate(rows, "round_robin", settings(), async () => cursor));
    expect(order).toEqual(["b", "c", "a", "b"]);
  });
});

/**
 * `POST /numbers/check` and the per-number phone lookup budget, on the edge
 * (real D1 and Durable Objects, a fleet WebSocket on the real protocol
 * answering `contacts.resolve`; WhatsApp's own answers are tested against
 * the peer in test/e2e/send.test.ts).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { hourKey } from "../../edge/services/pacing.ts";
import { call, connectedFleet, newInstance, newProject, projectWithNumber, useFleetSockets } from "./helpers.ts";

useFleetSockets();

const ACCOUNT = "551188887777@s.whatsapp.net";
// A Brazilian account under its 8-digit form: either form finds it.
const onWhatsApp = { "5511988887777": ACCOUNT, "551188887777": ACCOUNT, "14155552671": "14155552671@s.whatsapp.net" };

const check = (key: string, body: object) => call("/numbers/check", { method: "POST", token: key, body });
const setBudget = (key: string, lookups_hourly: number) => call("/settings", { method: "PATCH", token: key, body: { caps: { lookups_hourly } } });
const recipientRows = (projectId: string) =>
  env.DB.prepare("SELECT phone, jid FROM recipients WHERE project_id = ? ORDER BY phone").bind(projectId).all<{ phone: string; jid: string | null }>();

describe("POST /numbers/check", () => {
  it("answers each input in order (Brazilian under its account's form), in one query, then from the cache without asking WhatsApp again", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await connectedFleet(id, { onWhatsApp });
    const phones = ["+55 11 98888-7777", "+1 415 555 2671", "+55 11 91234-0000"];
    const first = await check(key, { phones });
    expect(first.status).toBe(200);
    expect(first.json.data).toEqual([
      { input: "+55 11 98888-7777", phone: "+551188887777", on_whatsapp: true, jid: ACCOUNT },
      { input: "+1 415 555 2671", phone: "+14155552671", on_whatsapp: true, jid: "14155552671@s.whatsapp.net" },
      { input: "+55 11 91234-0000", phone: "+5511912340000", on_whatsapp: false, jid: null },
    ]);
    // One query for the batch, both Brazilian forms asked.
    expect(fleet.lookups.map((l) => [...l].sort())).toEqual([["14155552671", "551112340000", "551188887777", "5511912340000", "5511988887777"]]);
    // Into the recipient cache, as a send's lookups are.
    expect((await recipientRows(projectId)).results).toEqual([
      { phone: "+14155552671", jid: "14155552671@s.whatsapp.net" },
      { phone: "+5511912340000", jid: null },
      { phone: "+5511988887777", jid: ACCOUNT },
    ]);

    const again = await check(key, { phones: [...phones].reverse() });
    expect(again.json.data.map((r: any) => r.jid)).toEqual([null, "14155552671@s.whatsapp.net", ACCOUNT]);
    expect(fleet.lookups).toHaveLength(1);
    // A send to a checked number needs no lookup either.
    const sent = await call("/messages/text", { method: "POST", token: key, body: { to: "+5511988887777", body: "oi" } });
    expect(sent.status).toBe(202);
    expect(sent.json.chat_jid).toBe(ACCOUNT);
    expect(fleet.lookups).toHaveLength(1);
  });

  it("reads national numbers under default_country, and asks through the given instance_id", async () => {
    const { key, id } = await projectWithNumber();
    const other = await newInstance(key, "n2");
    const otherFleet = await connectedFleet(other.id, { onWhatsApp });
    const fleet = await connectedFleet(id, { onWhatsApp });
    await call("/settings", { method: "PATCH", token: key, body: { default_country: "BR" } });
    const res = await check(key, { phones: ["(11) 98888-7777"], instance_id: other.id });
    expect(res.status).toBe(200);
    expect(res.json.data).toEqual([{ input: "(11) 98888-7777", phone: "+551188887777", on_whatsapp: true, jid: ACCOUNT }]);
    expect(otherFleet.lookups).toHaveLength(1);
    expect(fleet.lookups).toHaveLength(0);
  });

  it("refuses bad input with a 400 naming the field, and another project's or an unknown instance with 404", async () => {
    const { key } = await projectWithNumber();
    const other = await newProject("other");
    const theirs = await newInstance(other.api_key);
    const cases: [object, number, string, string][] = [
      [{ phones: [] }, 400, "invalid_request", "phones"],
      [{ phones: Array.from({ length: 101 }, (_, i) => `+1415555${String(i).padStart(4, "0")}`) }, 400, "invalid_request", "phones"],
      [{}, 400, "invalid_request", "phones"],
      [{ phones: ["+5511988887777", "not a phone"] }, 400, "invalid_request", "phones[1]"],
      [{ phones: ["+5511988887777", "+14155552671", "(11) 98888-7777"] }, 400, "country_code_required", "phones[2]"],
      [{ phones: ["+5511988887777"], instance_id: "nope" }, 404, "not_found", "instance_id"],
      [{ phones: ["+5511988887777"], instance_id: theirs.id }, 404, "not_found", "instance_id"],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await check(key, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(res.json.error, field).toMatchObject({ code, details: { field } });
    }
  });

  it("keeps each project's cache to itself, and answers 409 with no connected number to ask", async () => {
    const a = await projectWithNumber();
    const fleetA = await connectedFleet(a.id, { onWhatsApp });
    expect((await check(a.key, { phones: ["+5511988887777"] })).status).toBe(200);
    expect(fleetA.lookups).toHaveLength(1);

    const b = await projectWithNumber();
    const none = await check(b.key, { phones: ["+5511988887777"] });
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe("no_number_available");
    const fleetB = await connectedFleet(b.id, { onWhatsApp: {} });
    const answer = await check(b.key, { phones: ["+5511988887777"] });
    expect(answer.json.data).toEqual([{ input: "+5511988887777", phone: "+5511988887777", on_whatsapp: false, jid: null }]);
    expect(fleetB.lookups).toHaveLength(1);
    expect(fleetA.lookups).toHaveLength(1);
  });
});

describe("the hourly phone lookup budget of a number", () => {
  it("refuses a batch that does not fit whole with 429 rate_limited and Retry-After, asks nothing, and still answers cached numbers", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id, { onWhatsApp });
    expect((await setBudget(key, 3)).status).toBe(200);
    expect((await check(key, { phones: ["+5511988887777", "+14155552671"] })).status).toBe(200);

    const over = await check(key, { phones: ["+5511988887777", "+14155550001", "+14155550002"] });
    expect(over.status).toBe(429);
    expect(over.json.error).toMatchObject({ code: "rate_limited", details: { budget: 3, needed: 2 } });
    const retryAfter = Number(over.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(over.json.error.details.retry_after_s).toBe(retryAfter);
    expect(fleet.lookups).toHaveLength(1);

    // What fits still goes: one new number, plus cached ones that cost nothing.
    const fits = await check(key, { phones: ["+14155550001", "+5511988887777", "+14155552671"] });
    expect(fits.status).toBe(200);
    expect(fleet.lookups).toHaveLength(2);
    expect((await check(key, { phones: ["+14155550002"] })).status).toBe(429);
  });

  it("counts a send's own lookups, refuses a send that needs one past the budget with 429 at accept time, and frees the budget with the next hour", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await connectedFleet(id, { onWhatsApp });
    await setBudget(key, 1);
    expect((await call("/messages/text", { method: "POST", token: key, body: { to: "+14155552671", body: "hi" } })).status).toBe(202);
    expect(fleet.lookups).toHaveLength(1);

    const check429 = await check(key, { phones: ["+5511988887777"] });
    expect(check429.status).toBe(429);
    const send429 = await call("/messages/text", { method: "POST", token: key, body: { to: "+5511988887777", body: "oi" } });
    expect(send429.status).toBe(429);
    expect(send429.json.error.code).toBe("rate_limited");
    expect(Number(send429.headers.get("Retry-After"))).toBeGreaterThan(0);
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE project_id = ?").bind(projectId).first<{ n: number }>();
    expect(stored?.n).toBe(1);
    expect(fleet.lookups).toHaveLength(1);
    // A send to a number already known spends nothing and goes.
    expect((await call("/messages/text", { method: "POST", token: key, body: { to: "+14155552671", body: "again" } })).status).toBe(202);

    // The hour turns: what was counted belongs to the hour before.
    await runInDurableObject(instanceOf(env, id), async (_o, state) => {
      const usage = await state.storage.get<{ hour: string; count: number }>("lookups");
      expect(usage).toEqual({ hour: hourKey(Date.now()), count: 1 });
      await state.storage.put("lookups", { ...usage, hour: hourKey(Date.now() - 3_600_000) });
    });
    expect((await check(key, { phones: ["+5511988887777"] })).status).toBe(200);
    expect(fleet.lookups).toHaveLength(2);
  });

  it("is per number: with the picked number's budget spent, another connected number asks", async () => {
    const { key, id } = await projectWithNumber();
    const second = await newInstance(key, "n2");
    const fleets = [await connectedFleet(id, { onWhatsApp }), await connectedFleet(second.id, { onWhatsApp })];
    await setBudget(key, 1);
    expect((await check(key, { phones: ["+14155550001"] })).status).toBe(200);
    expect((await check(key, { phones: ["+14155550002"] })).status).toBe(200);
    expect(fleets.map((f) => f.lookups.length)).toEqual([1, 1]);
    const spent = await check(key, { phones: ["+14155550003"] });
    expect(spent.status).toBe(429);
  });
});

/**
 * `Idempotency-Key` on sends (issue 9, part 3), as Stripe does it: a retry
 * of the same request answers the first result and sends nothing more; the
 * same key for another request is refused with 422; keys are kept 24 hours.
 * Real D1 and Durable Objects; the fleet is the test's WebSocket, which
 * records every send.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, connectedFleet, messageOf, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "+5511988887777";
const CUSTOMER_JID = "5511988887777@s.whatsapp.net";
const OTHER_JID = "5511977776666@s.whatsapp.net";

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  const fleet = await connectedFleet(instance.id, { onWhatsApp: { "5511988887777": CUSTOMER_JID, "551188887777": CUSTOMER_JID } });
  return { key, projectId, id: instance.id, fleet };
}

const send = (key: string, type: string, body: object, idempotencyKey?: string) =>
  call(`/messages/${type}`, { method: "POST", token: key, body, headers: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {} });

const messageCount = async (projectId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE project_id = ?").bind(projectId).first<{ n: number }>())!.n;

/** Waits until the fleet has sent `n` messages, then a little longer, to see that no more come. */
async function sentExactly(fleet: { sends: unknown[] }, n: number) {
  await waitFor(() => fleet.sends.length >= n, 3_000, `${n} sends`);
  await new Promise((r) => setTimeout(r, 200));
  expect(fleet.sends).toHaveLength(n);
}

function expectReused(res: Awaited<ReturnType<typeof call>>, what: string) {
  expect(res.status, what).toBe(422);
  expect(res.json.error, what).toMatchObject({ code: "idempotency_key_reused", details: { field: "Idempotency-Key" } });
}

describe("Idempotency-Key", () => {
  it("a retry of the same request answers the first result (same id, Idempotent-Replayed) and sends once, whatever the key order or written-out defaults", async () => {
    const { key, projectId, fleet } = await setup();
    const first = await send(key, "text", { to: CUSTOMER, body: "pay", reference: "order-981" }, "order-981");
    expect(first.status).toBe(202);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    for (const body of [
      { to: CUSTOMER, body: "pay", reference: "order-981" },
      { reference: "order-981", body: "pay", to: CUSTOMER },
      { to: CUSTOMER, body: "pay", reference: "order-981", sticky: true },
    ]) {
      const again = await send(key, "text", body, "order-981");
      expect(again.status).toBe(202);
      expect(again.json).toEqual(first.json);
      expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    }
    await sentExactly(fleet, 1);
    expect(await messageCount(projectId)).toBe(1);
  });

  it("the same key with a different body answers 422 idempotency_key_reused naming the header, and sends nothing", async () => {
    const { key, projectId, fleet } = await setup();
    // A request refused by validation takes no key (as at Stripe): its corrected retry goes through.
    expect((await send(key, "text", { to: "not a phone", body: "pay R$ 10" }, "k-1")).status).toBe(400);
    const first = await send(key, "text", { to: CUSTOMER, body: "pay R$ 10" }, "k-1");
    expect(first.status).toBe(202);
    for (const [what, body] of [
      ["another text", { to: CUSTOMER, body: "pay R$ 1000" }],
      ["another recipient", { to: OTHER_JID, body: "pay R$ 10" }],
      ["another reference", { to: CUSTOMER, body: "pay R$ 10", reference: "x" }],
      ["sticky off", { to: CUSTOMER, body: "pay R$ 10", sticky: false }],
    ] as const) {
      expectReused(await send(key, "text", body, "k-1"), what);
    }
    await sentExactly(fleet, 1);
    expect(fleet.sends[0]!.content.text).toBe("pay R$ 10");
    expect(await messageCount(projectId)).toBe(1);
    // The first message is untouched, and the key still answers with it.
    expect((await send(key, "text", { to: CUSTOMER, body: "pay R$ 10" }, "k-1")).json.id).toBe(first.json.id);
    // Keys belong to their project: another one may use the same key for its own request.
    const other = await newProject("other");
    const number = await newInstance(other.api_key);
    expect((await send(other.api_key, "text", { to: CUSTOMER_JID, body: "theirs", instance_id: number.id }, "k-1")).status).toBe(202);
  });

  it("the same key on another route answers 422", async () => {
    const { key, projectId } = await setup();
    expect((await send(key, "text", { to: CUSTOMER, body: "1" }, "k-2")).status).toBe(202);
    expectReused(await send(key, "reaction", { to: CUSTOMER, quoted_message_id: "3EB0AAAA", emoji: "👍" }, "k-2"), "reaction");
    expectReused(await send(key, "buttons", { to: CUSTOMER, body: "1", buttons: [{ id: "a", title: "A" }] }, "k-2"), "buttons");
    expect(await messageCount(projectId)).toBe(1);
  });

  it("concurrent requests with one key: identical ones make one message; of different ones one is accepted and the others get 422", async () => {
    const { key, projectId, fleet } = await setup();
    const same = await Promise.all(Array.from({ length: 5 }, () => send(key, "text", { to: CUSTOMER, body: "once" }, "k-race")));
    expect(same.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(same.map((r) => r.json.id)).size).toBe(1);

    const mixed = await Promise.all(Array.from({ length: 5 }, (_, i) => send(key, "text", { to: CUSTOMER, body: `variant ${i}` }, "k-mixed")));
    const winners = mixed.filter((r) => r.status === 202);
    expect(winners).toHaveLength(1);
    for (const loser of mixed.filter((r) => r.status !== 202)) expectReused(loser, "a concurrent different request");
    await sentExactly(fleet, 2);
    expect(await messageCount(projectId)).toBe(2);
    expect(fleet.sends.map((s) => s.content.text)).toEqual(["once", (await messageOf(key, winners[0]!.json.id)).content.body]);
  });

  it("a key is kept 24 hours: after that it is free, and a new request with it is a new message (the old one stays)", async () => {
    const { key, projectId, fleet } = await setup();
    const old = await send(key, "text", { to: CUSTOMER, body: "yesterday" }, "k-day");
    const dayAgo = new Date(Date.now() - 24 * 3_600_000 - 60_000).toISOString();
    await env.DB.prepare("UPDATE messages SET created_at = ? WHERE id = ?").bind(dayAgo, old.json.id).run();
    const fresh = await send(key, "text", { to: CUSTOMER, body: "today" }, "k-day");
    expect(fresh.status).toBe(202);
    expect(fresh.json.id).not.toBe(old.json.id);
    expect(fresh.headers.get("Idempotent-Replayed")).toBeNull();
    // The key now belongs to the new message.
    expect((await send(key, "text", { to: CUSTOMER, body: "today" }, "k-day")).json.id).toBe(fresh.json.id);
    expectReused(await send(key, "text", { to: CUSTOMER, body: "yesterday" }, "k-day"), "the old body");
    expect((await messageOf(key, old.json.id)).content.body).toBe("yesterday");
    await sentExactly(fleet, 2);
    expect(await messageCount(projectId)).toBe(2);

    // Just under 24 hours, a key still holds.
    const recent = await send(key, "text", { to: CUSTOMER, body: "an hour short" }, "k-23h");
    const almostDay = new Date(Date.now() - 23 * 3_600_000).toISOString();
    await env.DB.prepare("UPDATE messages SET created_at = ? WHERE id = ?").bind(almostDay, recent.json.id).run();
    expectReused(await send(key, "text", { to: CUSTOMER, body: "something else" }, "k-23h"), "within 24 h");
  });

  it("a key whose request was answered 503 (not accepted, send again) is free for the retry", async () => {
    const { key, projectId, fleet } = await setup();
    const first = await send(key, "text", { to: CUSTOMER, body: "retry me" }, "k-503");
    // As sendMessage leaves a message whose queueing failed (its answer was 503).
    await env.DB.prepare("UPDATE messages SET status = 'failed', reason = 'enqueue_failed' WHERE id = ?").bind(first.json.id).run();
    const retry = await send(key, "text", { to: CUSTOMER, body: "retry me" }, "k-503");
    expect(retry.status).toBe(202);
    expect(retry.json.id).not.toBe(first.json.id);
    expect((await messageOf(key, retry.json.id)).status).not.toBe("failed");
    expect(await messageCount(projectId)).toBe(2);
    await waitFor(() => fleet.sends.some((s) => s.message_id === retry.json.id), 3_000, "the retry sent");
  });

  it("OTP: another code under the same key is refused; the fingerprint keeps no code in clear (keyed, not a plain hash)", async () => {
    const { key, projectId, fleet } = await setup();
    const first = await send(key, "otp", { to: CUSTOMER, code: "738291" }, "login-7");
    expect(first.status).toBe(202);
    expect((await send(key, "otp", { to: CUSTOMER, code: "738291" }, "login-7")).json.id).toBe(first.json.id);
    expectReused(await send(key, "otp", { to: CUSTOMER, code: "112233" }, "login-7"), "another code");
    const row = await env.DB.prepare("SELECT * FROM messages WHERE project_id = ?").bind(projectId).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain("738291");
    // Not the SHA-256 of the request: trying every 6-digit code against it would give the code away.
    const plain = async (code: string) => {
      const text = JSON.stringify({ body: { code, sticky: true, to: CUSTOMER }, route: "otp" });
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    };
    expect(row!.idempotency_fingerprint).toEqual(expect.any(String));
    expect(String(row!.idempotency_fingerprint)).not.toContain(await plain("738291"));
    await sentExactly(fleet, 2);
  });
});

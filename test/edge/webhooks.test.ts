/**
 * Webhooks in workerd with real D1, Durable Objects and Queues: the queue
 * consumer really runs, and the endpoints are the recording receiver of
 * vitest.config.ts (`http://hooks.test/<name>`). Events are produced with
 * `publish()`, as the receive path does.
 */
import { createExecutionContext, env, getQueueResult, createMessageBatch, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import wranglerToml from "../../wrangler.toml?raw";
import { publish } from "../../edge/services/events.ts";
import { retryDelaySeconds, handleQueueBatch, type DeliveryJob } from "../../edge/services/webhook-delivery.ts";
import { createWebhook } from "../../edge/services/webhooks.ts";
import { signerOf } from "../../edge/services/webhook-signer.ts";
import { db } from "../../edge/db/client.ts";
import { insertDeliveries } from "../../edge/db/webhooks.ts";
import type { EventHub } from "../../edge/objects/hub.ts";
import { hubOf } from "../../edge/objects/stubs.ts";
import { jobFor } from "../../edge/services/delivery-jobs.ts";
import { disconnectedEvent, instanceEvent, receivedEvent } from "./event-fixtures.ts";
import { call, countingD1, newProject, waitFor } from "./helpers.ts";

type Hit = { method: string; headers: Record<string, string>; body: string; at: number };

const endpoint = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;
const hookUrl = (name: string) => `http://hooks.test/${name}`;
const hitsOf = async (name: string): Promise<Hit[]> => (await fetch(`http://hooks.test/__log/${name}`)).json();
/** `status`: a number, or "<status> <body>" for a failure that says something. */
const answerWith = (name: string, status: number | string) => fetch(`http://hooks.test/__status/${name}`, { method: "PUT", body: String(status) });
const SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => (i * 7 + 3) % 256)))}`;

async function hitsAtLeast(name: string, n: number, timeoutMs = 8_000): Promise<Hit[]> {
  let hits: Hit[] = [];
  await waitFor(async () => (hits = await hitsOf(name)).length >= n, timeoutMs, `${n} deliveries at ${name}`);
  return hits;
}

async function project() {
  const { id, api_key: key } = await newProject();
  return { id, key };
}

async function addHook(key: string, body: Record<string, unknown>) {
  const res = await call("/webhooks", { method: "POST", token: key, body });
  if (res.status !== 201) throw new Error(`webhook: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as { id: string; secret: string; url: string; events: string[] };
}

/** An endpoint answering `status`, and one event's first attempt at it, logged. */
async function failingHook(label: string, status: number | string) {
  const { id: projectId, key } = await project();
  const name = endpoint(label);
  await answerWith(name, status);
  const hook = await addHook(key, { url: hookUrl(name) });
  await publish(env, projectId, disconnectedEvent("i-1"));
  await waitFor(async () => (await deliveries(key, hook.id))[0]?.attempts >= 1, 5_000, "an attempt");
  const [delivery] = await deliveries(key, hook.id);
  return { projectId, key, name, hook, delivery };
}

const deliveries = async (key: string, webhookId: string) =>
  (await call(`/webhooks/${webhookId}/deliveries?limit=100`, { token: key })).json.data as any[];

/** The endpoint's deliveries once at least `n` are logged: an attempt is recorded a moment after its POST (objects/hub-deliveries.ts). */
async function loggedAtLeast(key: string, webhookId: string, n: number): Promise<any[]> {
  let logged: any[] = [];
  await waitFor(async () => (logged = await deliveries(key, webhookId)).length >= n, 5_000, `${n} deliveries logged`);
  return logged;
}

describe("creating endpoints", () => {
  it("answers 201 with the secret once; reads never show it and D1 holds it only sealed", async () => {
    const { id: projectId, key } = await project();
    const res = await call("/webhooks", { method: "POST", token: key, body: { url: hookUrl(endpoint("a")), description: "CRM" } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ events: ["*"], description: "CRM", kind: "webhook", enabled: true, failing_since: null });
    const secret: string = res.json.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const one = await call(`/webhooks/${res.json.id}`, { token: key });
    const list = await call("/webhooks", { token: key });
    expect(one.status).toBe(200);
    expect(one.json.secret).toBeUndefined();
    expect(list.json).toMatchObject({ total: 1, limit: 200, offset: 0 });
    expect(JSON.stringify([one.json, list.json])).not.toContain(secret.slice(6, 20));

    const row = await env.DB.prepare("SELECT * FROM webhooks WHERE project_id = ?").bind(projectId).first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(secret.slice(6, 20));
    expect(row!.secret_sealed).toMatch(/^v1\./);
  });

  it("takes a secret in Standard Webhooks form and refuses other forms, naming the field", async () => {
    const { key } = await project();
    const given = await addHook(key, { url: hookUrl(endpoint("s")), secret: SECRET });
    expect(given.secret).toBe(SECRET);
    for (const secret of ["not-a-secret", "whsec_c2hvcnQ=", `whsec_${"A".repeat(200)}`]) {
      const res = await call("/webhooks", { method: "POST", token: key, body: { url: hookUrl("x"), secret } });
      expect(res.status).toBe(400);
      expect(res.json.error.details.field).toBe("secret");
    }
  });

  it("refuses unknown event names and non-http URLs with 400 naming the field", async () => {
    const { key } = await project();
    const unknown = await call("/webhooks", { method: "POST", token: key, body: { url: hookUrl("x"), events: ["message.recieved"] } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatchObject({ code: "invalid_request", details: { field: "events", unknown: ["message.recieved"] } });
    const badWildcard = await call("/webhooks", { method: "POST", token: key, body: { url: hookUrl("x"), events: ["nope.*"] } });
    expect(badWildcard.json.error.details.field).toBe("events");
    for (const url of ["ftp://hooks.test/x", "not a url", "javascript:alert(1)"]) {
      const res = await call("/webhooks", { method: "POST", token: key, body: { url } });
      expect(res.status).toBe(400);
      expect(res.json.error.details.field).toBe("url");
    }
    expect((await call("/webhooks", { token: key })).json.total).toBe(0);
  });

  it("refuses private, loopback and link-local URLs unless the operator allows private networks", async () => {
    const { id: projectId, key } = await project();
    for (const url of ["http://127.0.0.1:9000/h", "http://localhost/h", "http://10.1.2.3/h", "http://[::1]/h", "http://169.254.169.254/latest", "http://printer.local/h"]) {
      const res = await call("/webhooks", { method: "POST", token: key, body: { url } });
      expect(res.status, url).toBe(400);
      expect(res.json.error).toMatchObject({ code: "private_address", details: { field: "url" } });
    }
    const ok = await addHook(key, { url: hookUrl(endpoint("p")) });
    const moved = await call(`/webhooks/${ok.id}`, { method: "PATCH", token: key, body: { url: "http://192.168.0.10/h" } });
    expect(moved.json.error).toMatchObject({ code: "private_address", details: { field: "url" } });

    // The operator setting (POMBO_ALLOW_PRIVATE_NETWORKS=true) lets the same URL in...
    const allowed = await createWebhook({ ...env, POMBO_ALLOW_PRIVATE_NETWORKS: "true" }, projectId, { url: "http://127.0.0.1:9/h", events: ["*"] });
    expect(allowed.url).toBe("http://127.0.0.1:9/h");
    // ...and an edge without it refuses to send there, at send time too.
    const [event] = await publish(env, projectId, disconnectedEvent("i-1"));
    await waitFor(async () => (await deliveries(key, allowed.id))[0]?.attempts >= 1, 5_000, "an attempt");
    const [delivery] = await deliveries(key, allowed.id);
    expect(delivery).toMatchObject({ event_id: event!.id, status: "retrying", last_status_code: null });
    expect(delivery.last_error).toMatch(/^private_address: 127\.0\.0\.1 is not a public address/);
    await call(`/webhooks/${allowed.id}`, { method: "DELETE", token: key });
  });
});

describe("delivering", () => {
  it("signs per Standard Webhooks: the receiver's verify accepts it with the secret and rejects another", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("signed");
    const hook = await addHook(key, { url: hookUrl(name), secret: SECRET });
    const [event] = await publish(env, projectId, receivedEvent("Oi"));
    const [hit] = await hitsAtLeast(name, 1);
    expect(hit!.method).toBe("POST");
    expect(hit!.headers["content-type"]).toBe("application/json");
    expect(hit!.headers["user-agent"]).toMatch(/^Pombo-Webhooks\//);
    expect(hit!.headers["webhook-id"]).toBe(event!.id);
    expect(hit!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(hit!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);

    const verified = new Webhook(SECRET).verify(hit!.body, hit!.headers);
    expect(verified).toEqual(event);
    const other = `whsec_${btoa("another secret of 24+ bytes!!")}`;
    expect(() => new Webhook(other).verify(hit!.body, hit!.headers)).toThrow(/signature/i);
    // A tampered body fails too.
    expect(() => new Webhook(SECRET).verify(hit!.body.replace("Oi", "Ol"), hit!.headers)).toThrow();
    // Payloads carry no credentials.
    expect(hit!.body).not.toContain(key);
    expect(hit!.body).not.toContain(SECRET.slice(6));

    await waitFor(async () => (await deliveries(key, hook.id))[0]?.status === "delivered", 3_000, "delivered");
    const [delivery] = await deliveries(key, hook.id);
    expect(delivery).toMatchObject({ event_id: event!.id, event_type: "message.received", attempts: 1, last_status_code: 200 });
    expect(delivery.history).toEqual([
      { attempt: 1, status_code: 200, error: null, response_body: null, duration_ms: expect.any(Number), at: expect.any(String) },
    ]);
    const after = await call(`/webhooks/${hook.id}`, { token: key });
    expect(after.json.last_success_at).toEqual(expect.any(String));
  });

  it("signs as standardwebhooks' own sign does, for any body (node:crypto's HMAC, not the library's JavaScript one)", async () => {
    const sign = await signerOf(SECRET);
    const at = new Date(1_765_000_000_123);
    for (const body of ["{}", JSON.stringify({ text: "Olá, ação! 🎉 \u0000 \n" }), "x".repeat(70_000)]) {
      expect(await sign("evt_1", at, body)).toBe(new Webhook(SECRET).sign("evt_1", at, body));
    }
  });

  it("routes by filter: exact names, wildcards and *", async () => {
    const { id: projectId, key } = await project();
    const messages = await addHook(key, { url: hookUrl(endpoint("m")), events: ["message.*"] });
    const drops = await addHook(key, { url: hookUrl(endpoint("d")), events: ["instance.disconnected", "instance.banned"] });
    const all = await addHook(key, { url: hookUrl(endpoint("all")) });
    await publish(env, projectId, receivedEvent("hello"), instanceEvent("instance.connected", "i-1"), disconnectedEvent("i-1"));
    // A delivery is logged from its first attempt (they leave together: one hand-over, one queue batch).
    const types = async (id: string) => (await deliveries(key, id)).map((d) => d.event_type).sort();
    await waitFor(async () => (await types(all.id)).length === 3, 5_000, "the deliveries logged");
    expect(await types(messages.id)).toEqual(["message.received"]);
    expect(await types(drops.id)).toEqual(["instance.disconnected"]);
    expect(await types(all.id)).toEqual(["instance.connected", "instance.disconnected", "message.received"]);
  });

  it("signs media links afresh for each delivery", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("media");
    await addHook(key, { url: hookUrl(name) });
    await publish(env, projectId, receivedEvent("photo", { id: "med_123", url: "http://stale/link" }));
    const [hit] = await hitsAtLeast(name, 1);
    expect(JSON.parse(hit!.body).payload.media.url).toMatch(/\/media\/med_123\?exp=\d+&sig=[\w-]+$/);
  });

  it("retries a failing endpoint with the same webhook-id, logging every attempt, until it comes up", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("flaky");
    await answerWith(name, 503);
    const hook = await addHook(key, { url: hookUrl(name), secret: SECRET });
    const [event] = await publish(env, projectId, receivedEvent("are you there?"));

    await hitsAtLeast(name, 2);
    const failing = (await deliveries(key, hook.id))[0];
    expect(failing).toMatchObject({ status: "retrying", last_status_code: 503, last_error: "HTTP 503" });
    expect(Date.parse(failing.next_attempt_at)).toBeGreaterThan(Date.now() - 1_000);
    expect((await call(`/webhooks/${hook.id}`, { token: key })).json.failing_since).toEqual(expect.any(String));

    await answerWith(name, 200);
    await waitFor(async () => (await deliveries(key, hook.id))[0]?.status === "delivered", 15_000, "delivered after the endpoint came up");
    const hits = await hitsOf(name);
    expect(new Set(hits.map((h) => h.headers["webhook-id"]))).toEqual(new Set([event!.id]));
    for (const hit of hits) expect(new Webhook(SECRET).verify(hit.body, hit.headers)).toEqual(event);
    const [delivery] = await deliveries(key, hook.id);
    expect(delivery.attempts).toBe(hits.length);
    expect(delivery.history.map((a: { status_code: number }) => a.status_code)).toEqual([...Array(hits.length - 1).fill(503), 200]);
    expect(delivery.history.map((a: { attempt: number }) => a.attempt)).toEqual(hits.map((_, i) => i + 1));
    const healthy = (await call(`/webhooks/${hook.id}`, { token: key })).json;
    expect(healthy.failing_since).toBeNull();
    expect(healthy.last_success_at).toEqual(expect.any(String));
  });

  it("keeps the start of a failed answer's body on its attempt, so the operator sees why the endpoint refused it", async () => {
    const { key, hook, delivery } = await failingHook("why", `500 {"error":"database locked"}`);
    expect(delivery.history[0]).toMatchObject({ status_code: 500, error: "HTTP 500", response_body: '{"error":"database locked"}' });
    await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key });

    // A long answer is cut to its first 500 characters.
    const long = await failingHook("long", `502 ${"é".repeat(400)}${"x".repeat(5_000)}`);
    expect(long.delivery.history[0].response_body).toBe(`${"é".repeat(400)}${"x".repeat(100)}`);
    await call(`/webhooks/${long.hook.id}`, { method: "DELETE", token: long.key });
  });

  it("does not follow redirects: a 3xx is a failed attempt", async () => {
    const { key, hook, delivery } = await failingHook("moved", 307);
    expect(delivery).toMatchObject({ status: "retrying", last_status_code: 307 });
    expect(await hitsOf("elsewhere")).toEqual([]);
    await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key });
  });

  it("replays a delivery: the same event again, with the same webhook-id", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("replay");
    const hook = await addHook(key, { url: hookUrl(name), secret: SECRET });
    const [event] = await publish(env, projectId, receivedEvent("once"));
    await waitFor(async () => (await deliveries(key, hook.id))[0]?.status === "delivered", 5_000, "delivered");
    const [delivery] = await deliveries(key, hook.id);

    const res = await call(`/webhooks/${hook.id}/deliveries/${delivery.id}/replay`, { method: "POST", token: key });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id: delivery.id, status: "pending" });
    const hits = await hitsAtLeast(name, 2);
    expect(hits.map((h) => h.headers["webhook-id"])).toEqual([event!.id, event!.id]);
    expect(new Webhook(SECRET).verify(hits[1]!.body, hits[1]!.headers)).toEqual(event);
    await waitFor(async () => (await deliveries(key, hook.id))[0]?.attempts === 2, 3_000, "the replay's attempt logged");
    expect((await deliveries(key, hook.id))[0]).toMatchObject({ id: delivery.id, status: "delivered" });

    const missing = await call(`/webhooks/${hook.id}/deliveries/dlv_nope/replay`, { method: "POST", token: key });
    expect(missing.status).toBe(404);
  });
});

describe("changing endpoints", () => {
  it("rotates the secret (shown once), changes filters, and stops routing when disabled or deleted", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("change");
    const hook = await addHook(key, { url: hookUrl(name), events: ["instance.*"] });
    // Takes what is published below: once it has an event, that event's other deliveries have been through the queue too.
    const witness = endpoint("witness");
    const witnessHook = await addHook(key, { url: hookUrl(witness), events: ["message.received"] });

    const rotated = await call(`/webhooks/${hook.id}`, { method: "PATCH", token: key, body: { rotate_secret: true, events: ["message.received"] } });
    expect(rotated.status).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(hook.secret);
    expect(rotated.json.events).toEqual(["message.received"]);
    expect((await call(`/webhooks/${hook.id}`, { token: key })).json.secret).toBeUndefined();

    // The hub routes with the new filter at once, and deliveries are signed with the new secret.
    await publish(env, projectId, disconnectedEvent("i-1"), receivedEvent("after rotation"));
    const [hit] = await hitsAtLeast(name, 1);
    expect(JSON.parse(hit!.body).type).toBe("message.received");
    expect(() => new Webhook(rotated.json.secret).verify(hit!.body, hit!.headers)).not.toThrow();
    expect(() => new Webhook(hook.secret).verify(hit!.body, hit!.headers)).toThrow();

    const off = await call(`/webhooks/${hook.id}`, { method: "PATCH", token: key, body: { enabled: false } });
    expect(off.json.enabled).toBe(false);
    await publish(env, projectId, receivedEvent("while disabled"));
    // Recorded with the witness's (or before it): the one attempt of the event that routed to both.
    await loggedAtLeast(key, witnessHook.id, 2);
    expect(await deliveries(key, hook.id)).toHaveLength(1);
    expect(await hitsOf(name)).toHaveLength(1);

    expect((await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key })).status).toBe(204);
    expect((await call(`/webhooks/${hook.id}`, { token: key })).status).toBe(404);
    await publish(env, projectId, receivedEvent("after delete"));
    await hitsAtLeast(witness, 3);
    expect(await hitsOf(name)).toHaveLength(1);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?").bind(hook.id).first("n")).toBe(0);
  });

  it("signs with the new secret from the first delivery after a rotation, though the old one had signed a delivery just before (signers kept across batches)", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("rotating");
    const hook = await addHook(key, { url: hookUrl(name), events: ["message.received"] });
    await publish(env, projectId, receivedEvent("before rotation"));
    const [before] = await hitsAtLeast(name, 1);
    expect(() => new Webhook(hook.secret).verify(before!.body, before!.headers)).not.toThrow();

    const rotated = await call(`/webhooks/${hook.id}`, { method: "PATCH", token: key, body: { rotate_secret: true } });
    await publish(env, projectId, receivedEvent("right after rotation"));
    const after = (await hitsAtLeast(name, 2))[1]!;
    expect(after.body).toContain("right after rotation");
    expect(() => new Webhook(rotated.json.secret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(hook.secret).verify(after.body, after.headers)).toThrow(/signature/i);
  });

  it("pages the list", async () => {
    const { key } = await project();
    for (let i = 0; i < 3; i++) await addHook(key, { url: hookUrl(`page-${i}`) });
    const page = await call("/webhooks?limit=2&offset=1", { token: key });
    expect(page.json).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(page.json.data).toHaveLength(2);
  });

  it("keeps each project's endpoints to itself", async () => {
    const a = await project();
    const b = await project();
    const hook = await addHook(a.key, { url: hookUrl(endpoint("mine")) });
    await publish(env, a.id, receivedEvent("for a"));
    await waitFor(async () => (await deliveries(a.key, hook.id)).length === 1, 5_000, "a's delivery");
    const [delivery] = await deliveries(a.key, hook.id);

    expect((await call("/webhooks", { token: b.key })).json.data).toEqual([]);
    expect((await call(`/webhooks/${hook.id}`, { token: b.key })).status).toBe(404);
    expect((await call(`/webhooks/${hook.id}`, { method: "PATCH", token: b.key, body: { enabled: false } })).status).toBe(404);
    expect((await call(`/webhooks/${hook.id}`, { method: "DELETE", token: b.key })).status).toBe(404);
    expect((await call(`/webhooks/${hook.id}/deliveries`, { token: b.key })).status).toBe(404);
    expect((await call(`/webhooks/${hook.id}/deliveries/${delivery.id}/replay`, { method: "POST", token: b.key })).status).toBe(404);
    // b's events never reach a's endpoint (b's own has had them).
    const theirs = endpoint("theirs");
    await addHook(b.key, { url: hookUrl(theirs) });
    await publish(env, b.id, receivedEvent("for b"));
    await hitsAtLeast(theirs, 1);
    expect(await deliveries(a.key, hook.id)).toHaveLength(1);
    expect((await call(`/webhooks/${hook.id}`, { token: a.key })).json.enabled).toBe(true);
  });
});

describe("dead letters", () => {
  async function deadLetter(projectId: string, deliveryId: string) {
    const batch = createMessageBatch<DeliveryJob>("pombo-webhooks-dlq", [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { delivery_id: deliveryId, project_id: projectId } },
    ]);
    const ctx = createExecutionContext();
    await handleQueueBatch(batch, env);
    return getQueueResult(batch, ctx);
  }

  it("marks the delivery dead; an endpoint failing for days is disabled with a webhook.disabled event; re-enabling clears it", async () => {
    const { id: projectId, key } = await project();
    const down = endpoint("down");
    const watcher = endpoint("watcher");
    await answerWith(down, 503);
    const hook = await addHook(key, { url: hookUrl(down), events: ["instance.*"] });
    const watch = await addHook(key, { url: hookUrl(watcher), events: ["webhook.disabled"] });
    await publish(env, projectId, disconnectedEvent("i-1"));
    const [delivery] = await loggedAtLeast(key, hook.id, 1);

    // The queue's last retry of this delivery lands here while the endpoint has failed for 4 days.
    const fourDaysAgo = new Date(Date.now() - 96 * 3_600_000).toISOString();
    await env.DB.prepare("UPDATE webhooks SET failing_since = ? WHERE id = ?").bind(fourDaysAgo, hook.id).run();
    const result = await deadLetter(projectId, delivery.id);
    expect(result.ackAll).toBe(true);

    expect((await deliveries(key, hook.id))[0]).toMatchObject({ id: delivery.id, status: "dead", next_attempt_at: null });
    const disabled = (await call(`/webhooks/${hook.id}`, { token: key })).json;
    expect(disabled).toMatchObject({ enabled: false, failing_since: fourDaysAgo });
    expect(disabled.disabled_reason).toContain(fourDaysAgo);
    const [hit] = await hitsAtLeast(watcher, 1);
    expect(JSON.parse(hit!.body)).toMatchObject({
      type: "webhook.disabled",
      instance_id: null,
      payload: { webhook_id: hook.id, url: hookUrl(down), reason: disabled.disabled_reason },
    });
    expect((await loggedAtLeast(key, watch.id, 1)).map((d) => d.event_type)).toEqual(["webhook.disabled"]);

    // Disabled: new events are not routed to it, and a replay asks to enable it first.
    await publish(env, projectId, disconnectedEvent("i-2"));
    expect(await deliveries(key, hook.id)).toHaveLength(1);
    const replay = await call(`/webhooks/${hook.id}/deliveries/${delivery.id}/replay`, { method: "POST", token: key });
    expect(replay.json.error.code).toBe("webhook_disabled");

    const back = await call(`/webhooks/${hook.id}`, { method: "PATCH", token: key, body: { enabled: true } });
    expect(back.json).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
    await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key });
  });

  it("marks the delivery dead but keeps an endpoint that has failed only for hours", async () => {
    const { projectId, key, hook, delivery } = await failingHook("blip", 500);
    await deadLetter(projectId, delivery.id);
    expect((await deliveries(key, hook.id))[0].status).toBe("dead");
    expect((await call(`/webhooks/${hook.id}`, { token: key })).json).toMatchObject({ enabled: true, disabled_reason: null });
    await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key });
  });
});

/** D1 as the consumer (or the hub) uses it: each round trip, as the number of statements it carries. */
const countingDB = () => {
  const trips: number[] = [];
  return { env: { ...env, DB: countingD1(env.DB, (n) => trips.push(n)) }, trips };
};

describe("the cost of a batch of deliveries", () => {

  /** `perHook` events for each endpoint, written as the hub writes them, outside the queue (these tests are the consumer), and a batch naming them all. */
  async function deliveriesFor(projectId: string, hooks: { id: string }[], perHook: number) {
    const rows = Array.from({ length: perHook }, (_, i) => ({ id: `evt_cost_${projectId}_${i}`, body: receivedEvent(`n${i}`) })).flatMap((event) =>
      hooks.map((hook) => ({
        id: `dlv_${crypto.randomUUID().replaceAll("-", "")}`,
        project_id: projectId,
        webhook_id: hook.id,
        event_id: event.id,
        event_type: "message.received",
        body: JSON.stringify({ id: event.id, created_at: new Date().toISOString(), ...event.body }),
      })),
    );
    await insertDeliveries(db(env.DB), rows);
    const batch = () =>
      createMessageBatch<DeliveryJob>(
        "pombo-webhooks",
        rows.map((r, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { delivery_id: r.id, project_id: projectId } })),
      );
    return { rows, batch };
  }

  /** The project's counters of webhook deliveries, by row (the project's hour, the number's hour and day; fixtures' events are about number inst-1), summed across a change of hour. */
  const countersOf = async (projectId: string) =>
    Object.fromEntries(
      (
        await env.DB.prepare(
          `SELECT CASE instance_id WHEN '' THEN 'project' ELSE instance_id END || ':' || grain AS row,
             SUM(webhooks_delivered) AS delivered, SUM(webhook_attempts_failed) AS attempts_failed, SUM(webhooks_failed) AS failed
           FROM metric_counts WHERE project_id = ? GROUP BY 1`,
        )
          .bind(projectId)
          .all<{ row: string; delivered: number; attempts_failed: number; failed: number }>()
      ).results.map(({ row, ...counts }) => [row, counts]),
    );

  it("reads a batch of ten deliveries in one round trip and records them in one more of four statements: every attempt logged, each delivery's state, each endpoint's health once, the counts in one", async () => {
    const { id: projectId, key } = await project();
    const [okName, downName] = [endpoint("ok"), endpoint("down")];
    await answerWith(downName, 503);
    const [ok, down] = [await addHook(key, { url: hookUrl(okName) }), await addHook(key, { url: hookUrl(downName) })];
    const { batch } = await deliveriesFor(projectId, [ok, down], 5);
    const counted = countingDB();
    await handleQueueBatch(batch(), counted.env);
    expect(counted.trips).toEqual([1, 4]);

    expect((await hitsOf(okName)).length).toBe(5);
    const [good, bad] = await Promise.all([deliveries(key, ok.id), deliveries(key, down.id)]);
    expect(good.map((d) => [d.status, d.attempts, d.last_status_code, d.history.length])).toEqual(Array(5).fill(["delivered", 1, 200, 1]));
    expect(bad.map((d) => [d.status, d.attempts, d.last_status_code, d.last_error, d.history[0].status_code])).toEqual(
      Array(5).fill(["retrying", 1, 503, "HTTP 503", 503]),
    );
    expect(bad.every((d) => d.next_attempt_at !== null && d.delivered_at === null)).toBe(true);
    const [okHook, downHook] = await Promise.all([call(`/webhooks/${ok.id}`, { token: key }), call(`/webhooks/${down.id}`, { token: key })]);
    expect(okHook.json).toMatchObject({ failing_since: null, last_success_at: expect.any(String) });
    expect(downHook.json).toMatchObject({ failing_since: expect.any(String), last_success_at: null });
    const each = { delivered: 5, attempts_failed: 5, failed: 0 };
    expect(await countersOf(projectId)).toEqual({ "project:hour": each, "inst-1:hour": each, "inst-1:day": each });
  });

  it("gives up a disabled endpoint's deliveries in the same round trip as the batch's attempts, counting each outcome once, again nothing for what is settled", async () => {
    const { id: projectId, key } = await project();
    const [okName, downName, offName] = [endpoint("ok"), endpoint("down"), endpoint("off")];
    await answerWith(downName, 500);
    const hooks = [await addHook(key, { url: hookUrl(okName) }), await addHook(key, { url: hookUrl(downName) }), await addHook(key, { url: hookUrl(offName) })];
    const [ok, down, off] = hooks as [(typeof hooks)[0], (typeof hooks)[0], (typeof hooks)[0]];
    const { batch } = await deliveriesFor(projectId, hooks, 2);
    // Turned off after its deliveries were queued: they get nothing more.
    await call(`/webhooks/${off.id}`, { method: "PATCH", token: key, body: { enabled: false } });

    const first = countingDB();
    await handleQueueBatch(batch(), first.env);
    expect(first.trips).toEqual([1, 6]);
    expect((await hitsOf(offName)).length).toBe(0);
    const [good, bad, gone] = await Promise.all(hooks.map((h) => deliveries(key, h.id)));
    expect(good!.map((d) => [d.status, d.attempts])).toEqual(Array(2).fill(["delivered", 1]));
    expect(bad!.map((d) => [d.status, d.attempts, d.last_error])).toEqual(Array(2).fill(["retrying", 1, "HTTP 500"]));
    expect(gone!.map((d) => [d.status, d.attempts, d.last_error, d.next_attempt_at, d.history.length])).toEqual(Array(2).fill(["dead", 0, "webhook disabled", null, 0]));
    expect((await call(`/webhooks/${ok.id}`, { token: key })).json).toMatchObject({ failing_since: null, last_success_at: expect.any(String) });
    expect((await call(`/webhooks/${down.id}`, { token: key })).json).toMatchObject({ failing_since: expect.any(String), last_success_at: null });
    expect((await call(`/webhooks/${off.id}`, { token: key })).json).toMatchObject({ failing_since: null, last_success_at: null });
    let each = { delivered: 2, attempts_failed: 2, failed: 2 };
    expect(await countersOf(projectId)).toEqual({ "project:hour": each, "inst-1:hour": each, "inst-1:day": each });

    // The same messages again (Queues delivers at least once): only the failing endpoint is tried again, and counted again.
    const again = countingDB();
    await handleQueueBatch(batch(), again.env);
    expect(again.trips).toEqual([1, 4]);
    expect((await hitsOf(okName)).length).toBe(2);
    expect((await deliveries(key, down.id)).map((d) => d.attempts)).toEqual([2, 2]);
    each = { delivered: 2, attempts_failed: 4, failed: 2 };
    expect(await countersOf(projectId)).toEqual({ "project:hour": each, "inst-1:hour": each, "inst-1:day": each });
  });
});

describe("deliveries carried in their queue jobs", () => {
  /** A job for each endpoint, made as the hub makes them, carrying one new event's delivery. */
  function carriedJobs(projectId: string, hooks: { id: string }[], text = "carried") {
    const event = { id: `evt_${crypto.randomUUID().replaceAll("-", "")}`, created_at: new Date().toISOString(), ...receivedEvent(text) };
    return hooks.map((hook) => {
      const delivery = {
        id: `dlv_${crypto.randomUUID().replaceAll("-", "")}`,
        project_id: projectId,
        webhook_id: hook.id,
        event_id: event.id,
        event_type: event.type,
        body: JSON.stringify(event),
      };
      const { job, carried } = jobFor(delivery, event.created_at);
      expect(carried).toBe(true);
      return { job, event };
    });
  }
  const batchOf = (jobs: DeliveryJob[], queue = "pombo-webhooks") =>
    createMessageBatch<DeliveryJob>(
      queue,
      jobs.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
    );

  it("a job the queue hands over twice (attempts 1 both times) posts once; twice in one batch, once too", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("twice");
    const hook = await addHook(key, { url: hookUrl(name) });
    const { job } = carriedJobs(projectId, [hook])[0]!;
    await handleQueueBatch(batchOf([job]), env);
    await handleQueueBatch(batchOf([job]), env);
    expect(await hitsOf(name)).toHaveLength(1);
    expect((await deliveries(key, hook.id)).map((d) => [d.id, d.status, d.attempts, d.history.length])).toEqual([[job.delivery_id, "delivered", 1, 1]]);

    const { job: other } = carriedJobs(projectId, [hook])[0]!;
    await handleQueueBatch(batchOf([other, other]), env);
    expect(await hitsOf(name)).toHaveLength(2);
    expect((await deliveries(key, hook.id)).find((d) => d.id === other.delivery_id)).toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("a job carrying an event the endpoint already has a delivery of, under another id (published again through another hub), sends nothing", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("same-event");
    const hook = await addHook(key, { url: hookUrl(name) });
    const { job } = carriedJobs(projectId, [hook])[0]!;
    await handleQueueBatch(batchOf([job]), env);
    const again = { ...job, delivery_id: `dlv_${crypto.randomUUID().replaceAll("-", "")}` };
    await handleQueueBatch(batchOf([again]), env);
    expect(await hitsOf(name)).toHaveLength(1);
    expect((await deliveries(key, hook.id)).map((d) => [d.id, d.attempts])).toEqual([[job.delivery_id, 1]]);
  });

  it("reads a batch of carried deliveries in one round trip and records them in one more, the rows created first; the same jobs again create nothing", async () => {
    const { id: projectId, key } = await project();
    const [okName, downName] = [endpoint("ok"), endpoint("down")];
    await answerWith(downName, 503);
    const hooks = [await addHook(key, { url: hookUrl(okName) }), await addHook(key, { url: hookUrl(downName) })];
    const jobs = [1, 2, 3].flatMap((n) => carriedJobs(projectId, hooks, `n${n}`).map((c) => c.job));
    const first = countingDB();
    await handleQueueBatch(batchOf(jobs), first.env);
    expect(first.trips).toEqual([1, 5]);
    const [good, bad] = await Promise.all(hooks.map((h) => deliveries(key, h.id)));
    expect(good!.map((d) => [d.status, d.attempts, d.history.length])).toEqual(Array(3).fill(["delivered", 1, 1]));
    expect(bad!.map((d) => [d.status, d.attempts, d.last_error])).toEqual(Array(3).fill(["retrying", 1, "HTTP 503"]));

    // Retried: the rows are the truth now (attempt 2 of the failing ones; the delivered ones are not sent again).
    const again = countingDB();
    await handleQueueBatch(batchOf(jobs), again.env);
    expect(again.trips).toEqual([1, 4]);
    expect(await hitsOf(okName)).toHaveLength(3);
    expect((await deliveries(key, hooks[1]!.id)).map((d) => d.attempts)).toEqual([2, 2, 2]);
  });

  it("an endpoint disabled after the event gets nothing (its delivery logged dead), a deleted one nothing at all, a rotated secret signs", async () => {
    const { id: projectId, key } = await project();
    const [offName, goneName, newName] = [endpoint("off"), endpoint("gone"), endpoint("rotated")];
    const [off, gone, rotated] = [
      await addHook(key, { url: hookUrl(offName) }),
      await addHook(key, { url: hookUrl(goneName) }),
      await addHook(key, { url: hookUrl(newName), secret: SECRET }),
    ];
    const jobs = carriedJobs(projectId, [off, gone, rotated]);
    // Between the event and the consumer:
    await call(`/webhooks/${off.id}`, { method: "PATCH", token: key, body: { enabled: false } });
    await call(`/webhooks/${gone.id}`, { method: "DELETE", token: key });
    const rotation = await call(`/webhooks/${rotated.id}`, { method: "PATCH", token: key, body: { rotate_secret: true } });

    await handleQueueBatch(batchOf(jobs.map((j) => j.job)), env);
    expect(await hitsOf(offName)).toEqual([]);
    expect(await hitsOf(goneName)).toEqual([]);
    expect((await deliveries(key, off.id)).map((d) => [d.status, d.attempts, d.last_error])).toEqual([["dead", 0, "webhook disabled"]]);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?").bind(gone.id).first("n")).toBe(0);
    const [hit] = await hitsOf(newName);
    expect(new Webhook(rotation.json.secret).verify(hit!.body, hit!.headers)).toEqual(jobs[2]!.event);
    expect(() => new Webhook(SECRET).verify(hit!.body, hit!.headers)).toThrow(/signature/i);
  });

  it("a carried job dead-lettered before any attempt was logged is logged dead", async () => {
    const { id: projectId, key } = await project();
    const hook = await addHook(key, { url: hookUrl(endpoint("never")) });
    const { job } = carriedJobs(projectId, [hook])[0]!;
    await handleQueueBatch(batchOf([job], "pombo-webhooks-dlq"), env);
    expect((await deliveries(key, hook.id)).map((d) => [d.id, d.status, d.attempts])).toEqual([[job.delivery_id, "dead", 0]]);
  });

  it("a body too big for a queue message still goes out (its row written by the hub first, the job by id)", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("big");
    const hook = await addHook(key, { url: hookUrl(name), secret: SECRET });
    const [event] = await publish(env, projectId, receivedEvent("x".repeat(150_000)));
    const [hit] = await hitsAtLeast(name, 1);
    expect(new Webhook(SECRET).verify(hit!.body, hit!.headers)).toEqual(event);
    await waitFor(async () => (await deliveries(key, hook.id))[0]?.status === "delivered", 3_000, "delivered");
  });

  it("one big event to five endpoints goes out to all five: the jobs are split across sends to stay within a send's 256 KB", async () => {
    const { id: projectId, key } = await project();
    const names = Array.from({ length: 5 }, (_, i) => endpoint(`wide${i}`));
    for (const name of names) await addHook(key, { url: hookUrl(name) });
    const [event] = await publish(env, projectId, receivedEvent("y".repeat(60_000)));
    for (const name of names) expect(JSON.parse((await hitsAtLeast(name, 1))[0]!.body)).toEqual(event);
  });
});

describe("the retry schedule", () => {
  it("keeps retrying for at least 24 hours with the configured max_retries, no delay over Queues' 12 h", () => {
    const consumer = wranglerToml.split("[[queues.consumers]]")[1]!;
    const maxRetries = Number(/max_retries\s*=\s*(\d+)/.exec(consumer)![1]);
    const delays = (random: number) => Array.from({ length: maxRetries }, (_, i) => retryDelaySeconds(i + 1, 10, random));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(delays(0))).toBeGreaterThanOrEqual(24 * 3600);
    // and within Queues' default 4-day retention, even with the longest jitter
    expect(sum(delays(1))).toBeLessThan(4 * 24 * 3600);
    expect(Math.max(...delays(1))).toBeLessThanOrEqual(43_200);
    // Backoff grows: each ceiling doubles until the cap.
    expect(delays(1).slice(0, 4)).toEqual([10, 20, 40, 80]);
  });

  it("POMBO_WEBHOOK_RETRY_MAX_S caps the wait between attempts: a late retry of a failing endpoint comes within it", async () => {
    const { projectId, key, hook, delivery } = await failingHook("capped", 503);
    // The consumer's verdict on the 12th attempt (base 1 s here: its ceiling is 2,048 s).
    const retryAfter = async (vars: Record<string, string>) => {
      let delay: number | undefined;
      const message = {
        id: crypto.randomUUID(),
        timestamp: new Date(),
        attempts: 12,
        body: { delivery_id: delivery.id, project_id: projectId },
        ack: () => {},
        retry: (o?: QueueRetryOptions) => (delay = o?.delaySeconds),
      };
      const batch = { queue: "pombo-webhooks", messages: [message], ackAll: () => {}, retryAll: () => {} };
      await handleQueueBatch(batch as unknown as MessageBatch<DeliveryJob>, { ...env, ...vars });
      return delay;
    };
    expect(await retryAfter({})).toBeGreaterThanOrEqual(1_024);
    const capped = await retryAfter({ POMBO_WEBHOOK_RETRY_MAX_S: "60" });
    expect(capped).toBeGreaterThanOrEqual(30);
    expect(capped).toBeLessThanOrEqual(60);
    await call(`/webhooks/${hook.id}`, { method: "DELETE", token: key });
  });
});

describe("the alert URL (settings)", () => {
  it("creates an alert endpoint for instance drops, shows its secret once, moves it, and removes it", async () => {
    const { id: projectId, key } = await project();
    const name = endpoint("alert");
    const set = await call("/settings", { method: "PATCH", token: key, body: { alert_url: hookUrl(name) } });
    expect(set.status).toBe(200);
    expect(set.json.alert_url).toBe(hookUrl(name));
    const secret: string = set.json.alert_secret;
    expect(secret).toMatch(/^whsec_/);
    expect((await call("/settings", { token: key })).json).toMatchObject({ alert_url: hookUrl(name) });
    expect((await call("/settings", { token: key })).json.alert_secret).toBeUndefined();

    const [alert] = (await call("/webhooks", { token: key })).json.data;
    expect(alert).toMatchObject({ kind: "alert", url: hookUrl(name), events: ["instance.disconnected", "instance.logged_out", "instance.banned"] });
    const [, drop] = await publish(env, projectId, receivedEvent("not for alerts"), instanceEvent("instance.banned", "i-1"));
    const hits = await hitsAtLeast(name, 1);
    expect(new Webhook(secret).verify(hits[0]!.body, hits[0]!.headers)).toEqual(drop);
    expect((await loggedAtLeast(key, alert.id, 1)).map((d) => d.event_type)).toEqual(["instance.banned"]);

    // Managed through settings, not /webhooks.
    expect((await call(`/webhooks/${alert.id}`, { method: "PATCH", token: key, body: { url: hookUrl("x") } })).json.error.code).toBe("managed_by_settings");
    expect((await call(`/webhooks/${alert.id}`, { method: "DELETE", token: key })).status).toBe(409);

    const moved = await call("/settings", { method: "PATCH", token: key, body: { alert_url: hookUrl(`${name}-2`) } });
    expect(moved.json.alert_secret).toBeUndefined();
    expect((await call(`/webhooks/${alert.id}`, { token: key })).json.url).toBe(hookUrl(`${name}-2`));

    const bad = await call("/settings", { method: "PATCH", token: key, body: { alert_url: "http://127.0.0.1/alerts" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: "private_address", details: { field: "alert_url" } });
    expect((await call("/settings", { token: key })).json.alert_url).toBe(hookUrl(`${name}-2`));

    const removed = await call("/settings", { method: "PATCH", token: key, body: { alert_url: null } });
    expect(removed.json.alert_url).toBeNull();
    expect((await call("/webhooks", { token: key })).json.total).toBe(0);
  });

  it("rotate_alert_secret shows a new secret once; deliveries are signed with it and the old one no longer verifies; with no alert_url it is a 409", async () => {
    const { id: projectId, key } = await project();
    const none = await call("/settings", { method: "PATCH", token: key, body: { rotate_alert_secret: true } });
    expect(none.status).toBe(409);
    expect(none.json.error).toMatchObject({ code: "no_alert_url", details: { field: "rotate_alert_secret" } });

    const name = endpoint("alert-rotate");
    const old: string = (await call("/settings", { method: "PATCH", token: key, body: { alert_url: hookUrl(name) } })).json.alert_secret;
    const rotated = await call("/settings", { method: "PATCH", token: key, body: { rotate_alert_secret: true } });
    expect(rotated.status).toBe(200);
    const secret: string = rotated.json.alert_secret;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(old);
    expect(rotated.json.alert_url).toBe(hookUrl(name));
    const read = (await call("/settings", { token: key })).json;
    expect(read.alert_secret).toBeUndefined();
    expect(read.rotate_alert_secret).toBeUndefined();

    const [drop] = await publish(env, projectId, instanceEvent("instance.logged_out", "i-1"));
    const [hit] = await hitsAtLeast(name, 1);
    expect(new Webhook(secret).verify(hit!.body, hit!.headers)).toEqual(drop);
    expect(() => new Webhook(old).verify(hit!.body, hit!.headers)).toThrow();

    // Removing the alert URL and rotating in one change is refused before anything changes.
    const both = await call("/settings", { method: "PATCH", token: key, body: { alert_url: null, rotate_alert_secret: true } });
    expect(both.status).toBe(409);
    expect((await call("/settings", { token: key })).json.alert_url).toBe(hookUrl(name));
  });
});

/**
 * GET /metrics in workerd with real D1, Durable Objects and Queues: the
 * counters are written by the code paths where their facts happen (sends
 * through a fleet socket speaking the real protocol, receipts, received
 * messages, opt-outs, the webhook queue consumer), then read through the API.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { countFact } from "../../edge/db/metrics.ts";
import { publish } from "../../edge/services/events.ts";
import { markSent } from "../../edge/services/message-status.ts";
import { type DeliveryJob, handleQueueBatch } from "../../edge/services/webhook-delivery.ts";
import { disconnectedEvent } from "./event-fixtures.ts";
import {
  call,
  connectedFleet,
  deliver,
  fail,
  inboundMessage,
  messageOf,
  newInstance,
  projectWithNumber,
  useFleetSockets,
  waitFor,
} from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "5511988887777@s.whatsapp.net";
const HOUR = 3_600_000;

const metrics = async (key: string, query = "") => {
  const res = await call(`/metrics${query}`, { token: key });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json;
};
const sendText = (key: string, id: string, body: string) => call("/messages/text", { method: "POST", token: key, body: { to: CUSTOMER, body, instance_id: id } });
const statusIs = (key: string, id: string, status: string) => waitFor(async () => (await messageOf(key, id)).status === status, 5_000, `${id} ${status}`);
const zeroes = {
  sent: 0,
  delivered: 0,
  read: 0,
  played: 0,
  failed: 0,
  failed_by_reason: {},
  received: 0,
  opt_outs: 0,
  webhooks_delivered: 0,
  webhooks_failed: 0,
  webhook_attempts_failed: 0,
};

describe("what a number sends", () => {
  it("counts sent, delivered, read and failed by reason; a receipt that skips a step counts the step; a stale receipt counts nothing", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id, { answer: (frame) => (frame.content.text === "refused" ? fail("invalid_content") : undefined) });
    const one = (await sendText(key, id, "one")).json.id;
    const two = (await sendText(key, id, "two")).json.id;
    const refused = (await sendText(key, id, "refused")).json.id;
    await statusIs(key, one, "sent");
    await statusIs(key, two, "sent");
    await statusIs(key, refused, "failed");
    const reason = (await messageOf(key, refused)).reason;
    const waOf = (text: string) => fleet.sends.find((s) => s.content.text === text)!.wa_message_id;
    const receipt = (text: string, status: string) => fleet.socket.event("message.status", { wa_message_id: waOf(text), chat_jid: CUSTOMER, status });

    receipt("one", "delivered");
    await statusIs(key, one, "delivered");
    receipt("one", "read");
    await statusIs(key, one, "read");
    // Late and out of order: dropped by the status machine, so not counted.
    receipt("one", "delivered");
    // Read without a delivered receipt first: it was delivered too.
    receipt("two", "read");
    await statusIs(key, two, "read");
    await new Promise((r) => setTimeout(r, 200));

    const figures = { ...zeroes, sent: 2, delivered: 2, read: 2, failed: 1, failed_by_reason: { [reason]: 1 } };
    const project = await metrics(key);
    expect(project.totals).toMatchObject(figures);
    expect(project.totals.latency_ms.p50).toEqual(expect.any(Number));
    // Each number: its counters and failures, without reasons and latency (those are its own query's).
    const { failed_by_reason: _, ...counters } = figures;
    expect(project.numbers).toEqual([{ instance_id: id, name: "n1", ...counters }]);
    // All in this hour's bucket, the last of the 24.
    expect(project.series).toHaveLength(24);
    expect(project.series.at(-1)).toMatchObject(figures);
    expect(project.series.slice(0, -1).every((b: any) => b.sent === 0 && b.failed === 0)).toBe(true);
    const number = await metrics(key, `?instance_id=${id}`);
    expect(number.totals).toEqual(project.totals);
    expect(number.numbers).toBeUndefined();
  }, 30_000);

  it("keeps accept->sent latency as a histogram: p50 and p95 over any range come from its summed buckets", async () => {
    const { key, projectId, id } = await projectWithNumber();
    // No fleet: the sends stay queued, and the sender's record of each (markSent, as the send journal calls it) says when it left.
    const latencies = [...Array(11).fill(300), ...Array(7).fill(3_000), ...Array(2).fill(45 * 60_000)];
    for (const ms of latencies) {
      const sent = await sendText(key, id, `after ${ms} ms`);
      const message = await messageOf(key, sent.json.id);
      const sentAt = new Date(Date.parse(message.created_at) + ms).toISOString();
      expect((await markSent(db(env.DB), projectId, sent.json.id, { sent_at: sentAt, message_secret: null, poll_message: null })).moved).not.toBeNull();
    }
    const { totals } = await metrics(key);
    expect(totals.sent).toBe(20);
    // 11 in (200, 500] ms: the 10th of 20 is 10/11 into that bucket; 7 in (2, 5] s; 2 in (30, 60] min: the 19th is halfway into it.
    expect(totals.latency_ms).toEqual({ p50: 473, p95: 2_700_000 });
    expect((await metrics(key, `?instance_id=${id}&bucket=day`)).totals.latency_ms).toEqual({ p50: 473, p95: 2_700_000 });
  }, 30_000);
});

describe("what a number receives", () => {
  it("counts a received message once (a resend counts nothing), and an opt-out word once per person", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const hello = inboundMessage(CUSTOMER, { body: "Oi" });
    await deliver(fleet.socket, hello);
    expect((await deliver(fleet.socket, hello)).duplicate).toBe(true);
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "STOP" }));
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "stop" }));
    // From the number's own phone: ours, not received.
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "typed on the phone", from_me: true, sender_jid: "5511900000001@s.whatsapp.net" }));

    const { totals, numbers } = await metrics(key);
    expect(totals).toMatchObject({ ...zeroes, received: 3, opt_outs: 1 });
    expect(numbers[0]).toMatchObject({ instance_id: id, received: 3, opt_outs: 1 });
  }, 30_000);

  it("counts an opt-out through the API on the contact's number, and not again when repeated", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contact = (await call("/contacts", { token: key })).json.data[0];
    expect((await call(`/contacts/${contact.id}/optout`, { method: "POST", token: key })).status).toBe(200);
    expect((await call(`/contacts/${contact.id}/optout`, { method: "POST", token: key })).status).toBe(200);
    const { totals, numbers } = await metrics(key);
    expect(totals.opt_outs).toBe(1);
    expect(numbers[0].opt_outs).toBe(1);
  }, 30_000);
});

describe("webhook deliveries", () => {
  const hookUrl = (name: string) => `http://hooks.test/${name}-${crypto.randomUUID().slice(0, 8)}`;
  const deliveriesOf = async (key: string, hook: string) => (await call(`/webhooks/${hook}/deliveries`, { token: key })).json.data as any[];

  it("counts deliveries answered 2xx, failed attempts, and deliveries given up (once, however often the dead letter comes), on the event's number", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const ok = await call("/webhooks", { method: "POST", token: key, body: { url: hookUrl("ok"), events: ["instance.*"] } });
    const downUrl = hookUrl("down");
    await fetch(`${downUrl.replace("hooks.test/", "hooks.test/__status/")}`, { method: "PUT", body: "503" });
    const down = await call("/webhooks", { method: "POST", token: key, body: { url: downUrl, events: ["instance.*"] } });
    await publish(env, projectId, disconnectedEvent(id));
    await waitFor(async () => (await deliveriesOf(key, ok.json.id))[0]?.status === "delivered", 8_000, "the delivery");
    await waitFor(async () => (await deliveriesOf(key, down.json.id))[0]?.attempts >= 1, 8_000, "a failed attempt");
    const [failing] = await deliveriesOf(key, down.json.id);
    for (let i = 0; i < 2; i++) {
      const batch = createMessageBatch<DeliveryJob>("pombo-webhooks-dlq", [
        { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { delivery_id: failing.id, project_id: projectId } },
      ]);
      await handleQueueBatch(batch, env);
      await getQueueResult(batch, createExecutionContext());
    }
    await call(`/webhooks/${down.json.id}`, { method: "DELETE", token: key });

    const { totals, numbers } = await metrics(key);
    expect(totals.webhooks_delivered).toBe(1);
    expect(totals.webhooks_failed).toBe(1);
    expect(totals.webhook_attempts_failed).toBeGreaterThanOrEqual(1);
    expect(numbers[0]).toMatchObject({ instance_id: id, webhooks_delivered: 1, webhooks_failed: 1 });
  }, 30_000);
});

describe("ranges", () => {
  it("a range across days reads whole days and the hours at its ends (by day: whole days): each number's totals add up to the project's, bucket by bucket", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const other = (await newInstance(key, "n2")).id;
    const d1 = db(env.DB);
    // One received message every 3 hours over the past 3 days, alternately on each number, written by the counters' own upsert.
    const now = Date.now();
    for (let t = now - 72 * HOUR, i = 0; t <= now; t += 3 * HOUR, i++) {
      await countFact(d1, "metric_counts", { project_id: projectId, instance_id: i % 2 ? other : id, adds: { received: 1 } }, t);
    }
    const from = new Date(now - 50 * HOUR).toISOString();
    const to = new Date(now - 5 * HOUR).toISOString();
    for (const bucket of ["hour", "day"]) {
      const res = await metrics(key, `?from=${from}&to=${to}&bucket=${bucket}`);
      const start = Date.parse(res.from);
      const end = Date.parse(res.to);
      // Rounded out to the bucket: whole hours, or whole UTC days.
      const unit = bucket === "day" ? 24 * HOUR : HOUR;
      expect(start).toBe(Math.floor(Date.parse(from) / unit) * unit);
      expect(end).toBe(Math.ceil(Date.parse(to) / unit) * unit);
      let expected = 0;
      for (let t = now - 72 * HOUR; t <= now; t += 3 * HOUR) if (t >= start && t < end) expected++;
      expect(res.totals.received).toBe(expected);
      expect(res.series.reduce((n: number, b: any) => n + b.received, 0)).toBe(expected);
      expect(res.numbers.reduce((n: number, b: any) => n + b.received, 0)).toBe(expected);
      expect(res.numbers.map((n: any) => n.name)).toEqual(["n1", "n2"]);
    }
    const daily = await metrics(key, `?from=${from}&to=${to}&bucket=day`);
    expect(daily.series.length).toBeGreaterThanOrEqual(2);
    expect(daily.series.every((b: any) => b.start.endsWith("T00:00:00Z"))).toBe(true);
  }, 30_000);

  it("defaults to the last 24 hours by the hour; refuses a bad bucket, a bad time, a backwards or too long range with a 400 naming the field", async () => {
    const { key } = await projectWithNumber();
    const res = await metrics(key);
    expect(res.bucket).toBe("hour");
    expect(Date.parse(res.to) - Date.parse(res.from)).toBe(24 * HOUR);
    expect(Date.parse(res.to)).toBeGreaterThanOrEqual(Date.now());
    expect(res.series.every((b: any) => b.latency_ms.p50 === null)).toBe(true);

    const bad = async (query: string, code: string, field: string) => {
      const r = await call(`/metrics${query}`, { token: key });
      expect(r.status, query).toBe(400);
      expect(r.json.error.code, query).toBe(code);
      expect(r.json.error.details.field, query).toBe(field);
    };
    await bad("?bucket=week", "invalid_request", "bucket");
    await bad("?from=yesterday", "invalid_request", "from");
    await bad("?to=2026-13-01T00:00:00Z", "invalid_request", "to");
    await bad("?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "invalid_range", "from");
    await bad("?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", "range_too_long", "from");
    expect((await call("/metrics")).status).toBe(401);
  });

  it("is the project's own: another project's number is 404, and its counts are not seen", async () => {
    const a = await projectWithNumber();
    const b = await projectWithNumber();
    const fleet = await connectedFleet(b.id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const notFound = await call(`/metrics?instance_id=${b.id}`, { token: a.key });
    expect(notFound.status).toBe(404);
    expect(notFound.json.error.details.field).toBe("instance_id");
    const mine = await metrics(a.key);
    expect(mine.totals.received).toBe(0);
    expect(mine.numbers.map((n: any) => n.instance_id)).toEqual([a.id]);
    expect((await metrics(b.key)).totals.received).toBe(1);
  }, 30_000);
});

describe("the OpenAPI document", () => {
  it("describes GET /metrics with its query, answer and errors", async () => {
    const doc = (await call("/openapi.json")).json;
    const op = doc.paths["/metrics"].get;
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual(["bucket", "from", "instance_id", "to"]);
    expect(Object.keys(op.responses).sort()).toEqual(["200", "400", "401", "403", "404", "429"]);
    expect(doc.components.schemas.Metrics.properties).toHaveProperty("numbers");
    expect(doc.components.schemas.MetricsFigures.properties).toHaveProperty("failed_by_reason");
  });
});

/**
 * GET /events (Server-Sent Events) and the event hub behind it, in workerd
 * with real Durable Objects, D1 and Queues. Events are produced with
 * `publish()`, as the receive path does.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EventHub } from "../../edge/objects/hub.ts";
import type { DeliveryJob } from "../../edge/services/delivery-jobs.ts";
import { hubOf } from "../../edge/objects/stubs.ts";
import { EVENT_TYPES, type NewEvent, type PomboEvent, eventIdOf, publish } from "../../edge/services/events.ts";
import { disconnectedEvent, instanceEvent, receivedEvent } from "./event-fixtures.ts";
import { call, newProject, waitFor } from "./helpers.ts";
import { type Frame, readFrames } from "./sse.ts";

/** An SSE client over the Worker's fetch: frames as they arrive, and the comments (heartbeats) apart. */
async function listen(key: string | null, opts: { lastEventId?: string; query?: string; paused?: boolean } = {}) {
  const res = await exports.default.fetch(
    new Request(`http://pombo.test/events${opts.query ?? ""}`, {
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        accept: "text/event-stream",
        ...(opts.lastEventId ? { "last-event-id": opts.lastEventId } : {}),
      },
    }),
  );
  if (res.status !== 200 || !res.body) throw new Error(`GET /events: ${res.status} ${await res.text()}`);
  return readFrames(res, { paused: opts.paused });
}

async function project() {
  const { id, api_key: key } = await newProject();
  return { id, key };
}

const bodies = (frames: Frame[]) => frames.filter((f) => f.event === "message.received").map((f) => f.data.payload.body);

describe("GET /events", () => {
  it("streams events live as they are published, each frame with id, event and the event itself", async () => {
    const { id: projectId, key } = await project();
    const sse = await listen(key);
    expect(sse.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const published = await publish(env, projectId, receivedEvent("um"), disconnectedEvent("inst-1"));
    const frames = await sse.until(2);
    expect(frames.map((f) => f.event)).toEqual(["message.received", "instance.disconnected"]);
    expect(frames.map((f) => f.data)).toEqual(published);
    expect(Number(frames[1]!.id)).toBe(Number(frames[0]!.id) + 1);
    await sse.close();
  });

  it("resumes after Last-Event-ID with exactly the missed events, then goes on live with no repeats", async () => {
    const { id: projectId, key } = await project();
    const first = await listen(key);
    await publish(env, projectId, receivedEvent("before"));
    const [seen] = await first.until(1);
    await first.close();

    await publish(env, projectId, receivedEvent("missed 1"));
    await publish(env, projectId, receivedEvent("missed 2"), receivedEvent("missed 3"));
    const resumed = await listen(key, { lastEventId: seen!.id });
    await resumed.until(3);
    await publish(env, projectId, receivedEvent("live"));
    const frames = await resumed.until(4);
    expect(bodies(frames)).toEqual(["missed 1", "missed 2", "missed 3", "live"]);
    expect(frames.map((f) => Number(f.id))).toEqual([1, 2, 3, 4].map((i) => Number(seen!.id) + i));

    // The query form works the same (for clients that cannot set headers).
    const byQuery = await listen(key, { query: `?last_event_id=${Number(seen!.id) + 2}` });
    expect(bodies(await byQuery.until(2))).toEqual(["missed 3", "live"]);
    await resumed.close();
    await byQuery.close();
  });

  it("loses nothing and repeats nothing when events are published while a resumed stream replays", async () => {
    const { id: projectId, key } = await project();
    // A backlog larger than the stream's buffer, so the replay pauses for the reader while new events come in.
    const padding = "x".repeat(1_000);
    await publish(env, projectId, ...Array.from({ length: 300 }, (_, i) => receivedEvent(`old ${i} ${padding}`)));
    const sse = await listen(key, { lastEventId: "0", paused: true });
    await Promise.all(Array.from({ length: 20 }, (_, i) => publish(env, projectId, receivedEvent(`new ${i}`))));
    sse.resume();
    const frames = await sse.until(320);
    expect(frames.map((f) => Number(f.id))).toEqual(Array.from({ length: 320 }, (_, i) => i + 1));
    expect(new Set(bodies(frames)).size).toBe(320);
    await sse.close();
  });

  it("filters by type with names and wildcards", async () => {
    const { id: projectId, key } = await project();
    const instances = await listen(key, { query: "?types=instance.*" });
    const exact = await listen(key, { query: "?types=message.received,webhook.disabled" });
    await publish(env, projectId, receivedEvent("a message"), disconnectedEvent("inst-1"), instanceEvent("instance.connected", "inst-1"));
    expect((await instances.until(2)).map((f) => f.event)).toEqual(["instance.disconnected", "instance.connected"]);
    expect((await exact.until(1)).map((f) => f.event)).toEqual(["message.received"]);
    await publish(env, projectId, receivedEvent("another"));
    await exact.until(2);
    expect(instances.frames).toHaveLength(2);
    await instances.close();
    await exact.close();
  });

  it("refuses unknown types and malformed ids with 400 naming the field, and asks for a key", async () => {
    const { key } = await project();
    const types = await call("/events?types=message.*,nope", { token: key });
    expect(types.status).toBe(400);
    expect(types.json.error.details.field).toBe("types");
    const query = await call("/events?last_event_id=abc", { token: key });
    expect(query.json.error.details.field).toBe("last_event_id");
    const header = await call("/events", { token: key, headers: { "last-event-id": "evt_123" } });
    expect(header.status).toBe(400);
    expect(header.json.error.details.field).toBe("last-event-id");
    expect((await call("/events")).status).toBe(401);
  });

  it("gives each project only its own events", async () => {
    const a = await project();
    const b = await project();
    const sse = await listen(b.key);
    await publish(env, a.id, receivedEvent("for a"));
    await publish(env, b.id, receivedEvent("for b"));
    expect(bodies(await sse.until(1))).toEqual(["for b"]);
    await sse.close();
  });

  it("signs media links when a frame leaves", async () => {
    const { id: projectId, key } = await project();
    const sse = await listen(key);
    await publish(env, projectId, receivedEvent("photo", { id: "med_9", url: "stale" }));
    const [frame] = await sse.until(1);
    expect(frame!.data.payload.media.url).toMatch(/\/media\/med_9\?exp=\d+&sig=[\w-]+$/);
    await sse.close();
  });

  it("forgets a listener that disconnects", async () => {
    const { id: projectId, key } = await project();
    const sse = await listen(key);
    await publish(env, projectId, receivedEvent("hello"));
    await sse.until(1);
    expect(await hubOf(env, projectId).listenerCount()).toBe(1);
    await sse.close();
    await waitFor(async () => (await hubOf(env, projectId).listenerCount()) === 0, 3_000, "the listener dropped");
  });
});

describe("stream tokens (browsers: EventSource sends no headers)", () => {
  const streamToken = async (key: string) => {
    const res = await call("/events/token", { method: "POST", token: key, body: {} });
    expect(res.status).toBe(201);
    return res.json as { token: string; expires_at: string };
  };

  it("opens the project's stream once, with no key in the request, and only that project's", async () => {
    const a = await project();
    const b = await project();
    const { token, expires_at } = await streamToken(b.key);
    expect(token).toMatch(/^pb_st_\w{43}$/);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(50_000);
    const sse = await listen(null, { query: `?stream_token=${token}` });
    await publish(env, a.id, receivedEvent("for a"));
    await publish(env, b.id, receivedEvent("for b"));
    expect(bodies(await sse.until(1))).toEqual(["for b"]);
    await sse.close();
    const again = await call(`/events?stream_token=${token}`);
    expect(again.status).toBe(401);
    expect(again.json.error.message).toMatch(/POST \/events\/token/);
  });

  it("refuses an expired or made-up token, and is no credential anywhere but the stream's GET", async () => {
    const { id, key } = await project();
    const { issueStreamToken } = await import("../../edge/services/stream-tokens.ts");
    const { db } = await import("../../edge/db/client.ts");
    const expired = await issueStreamToken(db(env.DB), id, Date.now() - 61_000);
    expect((await call(`/events?stream_token=${expired.token}`)).status).toBe(401);
    expect((await call(`/events?stream_token=pb_st_${"x".repeat(43)}`)).status).toBe(401);
    const { token } = await streamToken(key);
    expect((await call(`/events/token?stream_token=${token}`, { method: "POST", body: {} })).status).toBe(401);
    expect((await call("/instances", { token })).status).toBe(401);
    expect((await call(`/instances?stream_token=${token}`)).status).toBe(401);
  });

  it("keeps only a hash of each token, and clears a project's expired ones", async () => {
    const { id, key } = await project();
    const { issueStreamToken } = await import("../../edge/services/stream-tokens.ts");
    const { db } = await import("../../edge/db/client.ts");
    await issueStreamToken(db(env.DB), id, Date.now() - 120_000);
    const { token } = await streamToken(key);
    const rows = await env.DB.prepare("SELECT * FROM stream_tokens WHERE project_id = ?").bind(id).all();
    expect(rows.results).toHaveLength(1);
    expect(JSON.stringify(rows.results)).not.toContain(token);
    expect(JSON.stringify(rows.results)).not.toContain(token.slice(6));
  });
});

describe("the API document", () => {
  it("documents the stream as text/event-stream, and the webhook routes", async () => {
    const doc = (await call("/openapi.json")).json;
    const stream = doc.paths["/events"].get;
    expect(Object.keys(stream.responses[200].content)).toEqual(["text/event-stream"]);
    expect(stream.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["last-event-id", "last_event_id", "stream_token", "types"]);
    for (const path of ["/webhooks", "/webhooks/{id}", "/webhooks/{id}/deliveries", "/webhooks/{id}/deliveries/{delivery_id}/replay"]) {
      expect(doc.paths[path], path).toBeDefined();
    }
  });

  it("documents every event type a webhook can subscribe to as a webhook, with the fields its payload carries", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    const schemaOf = (type: string) => {
      const ref = doc.webhooks[type].post.requestBody.content["application/json"].schema.$ref as string;
      return doc.components.schemas[ref.split("/").pop()!];
    };
    const edited = schemaOf("message.edited");
    expect(edited.required).toEqual(expect.arrayContaining(["id", "type", "created_at", "instance_id", "payload"]));
    expect(Object.keys(edited.properties.payload.properties).sort()).toEqual(
      ["body", "by", "chat_jid", "direction", "edited_at", "message_id", "previous_body", "wa_message_id"],
    );
    expect(edited.properties.payload.properties.by.enum).toEqual(["api", "customer", "phone"]);
    expect(schemaOf("presence.update").properties.payload.properties.state.enum).toContain("composing");
    expect(schemaOf("message.received").properties.sender.required).toEqual(["jid", "lid", "name"]);
  });
});

describe("the event log", () => {
  it("says so with a gap frame when a resume reaches past retention, then replays what is left", async () => {
    const { id: projectId, key } = await project();
    await publish(env, projectId, receivedEvent("old 1"), receivedEvent("old 2"));
    await publish(env, projectId, receivedEvent("recent"));
    const stub = hubOf(env, projectId);
    // Age the first two past the 72-hour retention, and let the alarm trim.
    await runInDurableObject(stub, (_hub, state) => {
      state.storage.sql.exec("UPDATE events SET created_at = ? WHERE seq <= 2", Date.now() - 73 * 3_600_000);
    });
    await runDurableObjectAlarm(stub);
    const sse = await listen(key, { lastEventId: "1" });
    const frames = await sse.until(2);
    expect(frames[0]).toMatchObject({ event: "gap", data: { last_event_id: 1, resumed_after: 2 } });
    expect(frames[1]).toMatchObject({ id: "3", event: "message.received" });
    expect(frames[1]!.data.payload.body).toBe("recent");
    await sse.close();

    // Resuming from within what is kept has no gap.
    const fine = await listen(key, { lastEventId: "2" });
    expect((await fine.until(1)).map((f) => f.event)).toEqual(["message.received"]);
    await fine.close();
  });

  it("takes an event once however often it is published", async () => {
    const { id: projectId, key } = await project();
    await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/once-only" } });
    const event = { id: "evt_fixed_1", created_at: new Date().toISOString(), ...disconnectedEvent("inst-1") } as PomboEvent;
    const sealed = { id: event.id, type: event.type, body: JSON.stringify(event) };
    await hubOf(env, projectId).publish(projectId, [sealed]);
    await hubOf(env, projectId).publish(projectId, [sealed, sealed]);
    const sse = await listen(key, { lastEventId: "0" });
    await sse.until(1);
    await publish(env, projectId, receivedEvent("marker"));
    expect((await sse.until(2)).map((f) => f.data.id)).toEqual(["evt_fixed_1", expect.any(String)]);
    const rows = () => env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id = ?").bind("evt_fixed_1").first<number>("n");
    await waitFor(async () => (await rows()) === 1, 3_000, "its delivery");
    await new Promise((r) => setTimeout(r, 100));
    expect(await rows()).toBe(1);
    await sse.close();
  });

  it("gives an event announcing a message's state an id made from what it announces, so publishing it again delivers nothing more", async () => {
    const { id: projectId, key } = await project();
    await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/by-message" } });
    const received = receivedEvent("uma vez");
    const [first] = await publish(env, projectId, received);
    // Published again later (a repeat of the message, a replayed journal entry): its fields may differ, its id does not.
    const [again] = await publish(env, projectId, { ...received, sender: { ...(received as any).sender, name: "Maria S." } } as NewEvent);
    expect(first!.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(again!.id).toBe(first!.id);
    await publish(env, projectId, receivedEvent("marcador"));
    const sse = await listen(key, { lastEventId: "0" });
    expect(bodies(await sse.until(2))).toEqual(["uma vez", "marcador"]);
    await sse.close();
    const deliveries = () => env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id = ?").bind(first!.id).first<number>("n");
    await waitFor(async () => (await deliveries()) === 1, 3_000, "its delivery");
    await new Promise((r) => setTimeout(r, 100));
    expect(await deliveries()).toBe(1);
  });

  it("keeps the statuses of one message apart, one project's ids from another's, and random ids for what may happen twice", async () => {
    const status = (status: string, message_id = "msg_1"): NewEvent =>
      ({
        type: "message.status",
        instance_id: "inst-1",
        contact_id: null,
        conversation_id: null,
        reference: null,
        payload: { message_id, wa_message_id: "3EB0", status, reason: null, chat_jid: "5511988887777@s.whatsapp.net" },
      }) as NewEvent;
    const [delivered, read, otherRead, deliveredElsewhere] = [
      eventIdOf("prj_a", status("delivered")),
      eventIdOf("prj_a", status("read")),
      eventIdOf("prj_a", status("read", "msg_2")),
      eventIdOf("prj_b", status("delivered")),
    ];
    expect(eventIdOf("prj_a", status("delivered"))).toBe(delivered);
    expect(new Set([delivered, read, otherRead, deliveredElsewhere]).size).toBe(4);
    // A number's state changes again and again: each announcement is its own event.
    const connected = instanceEvent("instance.connected", "inst-1");
    expect(eventIdOf("prj_a", connected)).not.toBe(eventIdOf("prj_a", connected));
  });

  it("routes past an endpoint deleted behind its cache (its invalidation lost) without holding up the others; the deleted one gets no delivery row", async () => {
    const { id: projectId, key } = await project();
    const gone = (await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/gone" } })).json;
    const kept = (await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/kept" } })).json;
    await publish(env, projectId, disconnectedEvent("inst-1")); // the hub now caches both
    // Deleted without the hub hearing of it (as from another isolate, before the cache expires).
    await env.DB.prepare("DELETE FROM webhooks WHERE id = ?").bind(gone.id).run();
    const [event] = await publish(env, projectId, disconnectedEvent("inst-2"));
    const rowsOf = (hookId: string) =>
      env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?").bind(hookId, event!.id).first("n");
    await waitFor(async () => (await rowsOf(kept.id)) === 1, 3_000, "the kept endpoint's delivery");
    // Both left (the deleted endpoint's with no row in D1): what the outbox holds is done, deleted with the next write.
    await waitFor(
      async () => {
        const { rows, done } = await hubOf(env, projectId).outboxSize();
        return rows === done;
      },
      3_000,
      "both to leave",
    );
    expect(await rowsOf(gone.id)).toBe(0);
  });

  it("answers the publisher once the event is logged, while the queue is still taking its deliveries, which then leave", async () => {
    const { id: projectId, key } = await project();
    const hook = (await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/slow-queue" } })).json;
    // A failing endpoint's deliveries go through the queue (the hub makes no first attempt at it).
    await env.DB.prepare("UPDATE webhooks SET failing_since = ? WHERE id = ?").bind(new Date().toISOString(), hook.id).run();
    const stub = hubOf(env, projectId);
    await publish(env, projectId, disconnectedEvent("inst-0")); // the hub has read the endpoints
    // The queue takes sends only when the test says so.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new Proxy(env.WEBHOOKS, {
      get(target, key) {
        if (key === "sendBatch") return async (messages: MessageSendRequest<DeliveryJob>[]) => (await gate, target.sendBatch(messages));
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await runInDurableObject(stub, (instance: EventHub) => {
      (instance as unknown as { env: typeof env }).env = { ...env, WEBHOOKS: slow };
    });
    const answered = publish(env, projectId, disconnectedEvent("inst-1")).then(([e]) => e!);
    const event = await Promise.race([answered, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("publish waited for the queue")), 2_000))]);
    const deliveries = () => env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id = ?").bind(event.id).first("n");
    expect(await deliveries()).toBe(0);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n)).toBe(1);
    release();
    await waitFor(async () => ((await (await fetch("http://hooks.test/__log/slow-queue")).json()) as unknown[]).length === 2, 5_000, "both deliveries");
    await waitFor(async () => (await deliveries()) === 1, 3_000, "the delivery in D1, with its attempt");
    await waitFor(
      async () => {
        const { rows, done } = await stub.outboxSize();
        return rows === done;
      },
      3_000,
      "nothing left waiting in the outbox",
    );
  });

  it("keeps deliveries the queue refused, and its alarm sends them later", async () => {
    const { id: projectId, key } = await project();
    const hook = (await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/after-outage" } })).json;
    // A failing endpoint's deliveries go through the queue (the hub makes no first attempt at it).
    await env.DB.prepare("UPDATE webhooks SET failing_since = ? WHERE id = ?").bind(new Date().toISOString(), hook.id).run();
    const stub = hubOf(env, projectId);
    // The queue is down for this publish.
    const realQueue = env.WEBHOOKS;
    await runInDurableObject(stub, (instance: EventHub) => {
      (instance as unknown as { env: typeof env }).env = {
        ...env,
        WEBHOOKS: { send: () => Promise.reject(new Error("queue down")), sendBatch: () => Promise.reject(new Error("queue down")) } as unknown as Queue,
      };
    });
    const [event] = await publish(env, projectId, disconnectedEvent("inst-1"));
    const waiting = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n);
    expect(waiting).toBe(1);
    expect((await (await fetch("http://hooks.test/__log/after-outage")).json()) as unknown[]).toEqual([]);
    // Nothing in D1 yet: a delivery is logged from its first attempt.
    expect((await call(`/webhooks/${hook.id}/deliveries`, { token: key })).json.data).toEqual([]);

    // The queue is back; the alarm finds the outbox row (aged past the resend delay) and sends it.
    await runInDurableObject(stub, (instance: EventHub, state) => {
      (instance as unknown as { env: typeof env }).env = { ...env, WEBHOOKS: realQueue };
      state.storage.sql.exec("UPDATE outbox SET created_at = created_at - 60000");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitFor(async () => ((await (await fetch("http://hooks.test/__log/after-outage")).json()) as unknown[]).length === 1, 5_000, "the delivery");
    const [hit] = (await (await fetch("http://hooks.test/__log/after-outage")).json()) as { headers: Record<string, string> }[];
    expect(hit!.headers["webhook-id"]).toBe(event!.id);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n)).toBe(0);
    await waitFor(async () => (await call(`/webhooks/${hook.id}/deliveries`, { token: key })).json.data[0]?.status === "delivered", 3_000, "delivered");
  });
});

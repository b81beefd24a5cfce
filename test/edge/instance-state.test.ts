/**
 * State that tells the truth (issue 9, part 4), on the edge's side: what a
 * number's statuses cost in health, which of them are announced as
 * `instance.*` events, pairing that expired, dead sockets counted, and an
 * import right after the instance was created.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  FLEET,
  type FleetSocket,
  call,
  connectInstance,
  eventsUntil,
  joinDirectory,
  newInstance,
  newProject,
  resetDirectory,
  sessionCreds,
  waitFor,
} from "./helpers.ts";

const JID = "5511900000042:7@s.whatsapp.net";

afterEach(resetDirectory);

async function heldInstance() {
  const { api_key: key } = await newProject();
  const { id } = await newInstance(key);
  const fleet = await connectInstance(id, "fleet-state");
  expect((await fleet.next()).event).toBe("lease.granted");
  return { key, id, fleet };
}

/** The fleet reports these statuses, in order; returns once the edge has applied them all. */
async function report(fleet: FleetSocket, statuses: object[]) {
  for (const status of statuses) fleet.event("status", status);
  await fleet.request("session.get", { keys: [] }); // a round trip: every event before it was applied
}

const instanceOf = async (key: string, id: string) => (await call(`/instances/${id}`, { token: key })).json;
const connected = { state: "connected", jid: JID };
/** One failed reconnect attempt, as the fleet reports it: connecting, then the drop (408: WhatsApp unreachable). */
const retry = [{ state: "connecting" }, { state: "disconnected", reason: "transient", close_code: 408 }];

describe("health: what a failed connection costs", () => {
  it("a number that never connected loses no health, however many attempts fail", async () => {
    const { key, id, fleet } = await heldInstance();
    // An instance that cannot reach WhatsApp, or never gets paired: 30 failed attempts (3 minutes of backoff).
    await report(fleet, Array.from({ length: 30 }, () => retry).flat());
    const instance = await instanceOf(key, id);
    expect(instance).toMatchObject({ state: "disconnected", reason: "transient", last_close_code: 408 });
    expect(instance.health).toBe(100);
    // Once paired, it goes straight into rotation.
    await report(fleet, [connected]);
    expect((await instanceOf(key, id)).health).toBe(100);
  });

  it("a connected number that drops costs health once per outage, not once per retry", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [connected, { state: "disconnected", reason: "transient", close_code: 428 }]);
    const afterDrop = (await instanceOf(key, id)).health;
    expect(afterDrop).toBe(90);
    // No internet: the fleet retries for a long while, always the same failure.
    await report(fleet, Array.from({ length: 20 }, () => retry).flat());
    expect((await instanceOf(key, id)).health).toBe(afterDrop);
    // The link to the edge blipping re-sends the last status: still the same outage.
    await report(fleet, [{ state: "disconnected", reason: "transient", close_code: 408 }]);
    expect((await instanceOf(key, id)).health).toBe(afterDrop);
    // Back online, then a second drop: a second outage.
    await report(fleet, [connected, ...retry, ...retry]);
    expect((await instanceOf(key, id)).health).toBe(80);
  });
});

describe("instance.* events: changes, not retries", () => {
  it("a reconnect loop announces one instance.disconnected, and instance.connected when it is back", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [connected, { state: "disconnected", reason: "transient", close_code: 428 }]);
    await report(fleet, Array.from({ length: 10 }, () => retry).flat());
    await report(fleet, [{ state: "connecting" }, connected]);
    const events = await eventsUntil(key, (e) => e.filter((x) => x.type === "instance.connected").length === 2);
    const mine = events.filter((e) => e.instance_id === id).map((e) => e.type);
    expect(mine).toEqual(["instance.connected", "instance.disconnected", "instance.connected"]);
    // The status itself kept telling the truth throughout.
    expect((await instanceOf(key, id)).state).toBe("connected");
  });

  it("an unpaired number whose QR batches run out announces its new QRs only, never a disconnect per batch", async () => {
    const { key, id, fleet } = await heldInstance();
    // Each batch: a socket shows two QRs, nobody scans, WhatsApp ends it (408), the fleet reconnects.
    for (let batch = 0; batch < 5; batch++) {
      await report(fleet, [
        { state: "connecting" },
        { state: "qr_pending", qr: `2@batch${batch}-a` },
        { state: "qr_pending", qr: `2@batch${batch}-b` },
        { state: "disconnected", reason: "transient", close_code: 408 },
      ]);
    }
    // An instance that cannot reach WhatsApp at all says nothing either.
    await report(fleet, Array.from({ length: 5 }, () => retry).flat());
    const events = await eventsUntil(key, (e) => e.filter((x) => x.type === "instance.qr").length === 10);
    const mine = events.filter((e) => e.instance_id === id);
    expect(mine.map((e) => e.type)).toEqual(Array(10).fill("instance.qr"));
    expect((await instanceOf(key, id)).health).toBe(100);
  });
});

describe("pairing_expired", () => {
  it("is a reason in GET /instances and the OpenAPI document, announced once as instance.disconnected", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [{ state: "qr_pending", qr: "2@only" }, { state: "disconnected", reason: "pairing_expired" }]);
    expect(await instanceOf(key, id)).toMatchObject({ state: "disconnected", reason: "pairing_expired", health: 100 });
    // Re-sent after a link blip: nothing new to say.
    await report(fleet, [{ state: "disconnected", reason: "pairing_expired" }]);
    const events = await eventsUntil(key, (e) => e.some((x) => x.type === "instance.disconnected"));
    const drops = events.filter((e) => e.instance_id === id && e.type === "instance.disconnected");
    expect(drops.map((e) => e.payload)).toEqual([
      { state: "disconnected", reason: "pairing_expired", close_code: null, jid: null, phone: null },
    ]);
    const doc = (await call("/openapi.json")).json;
    expect(doc.components.schemas.Instance.properties.reason.enum).toContain("pairing_expired");
  });

  it("stays parked when the fleet goes away, and a new holder is told not to connect by itself", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [{ state: "disconnected", reason: "pairing_expired" }]);
    fleet.ws.close(1001, "gone");
    await fleet.closed;
    await new Promise((r) => setTimeout(r, 100));
    expect(await instanceOf(key, id)).toMatchObject({ state: "disconnected", reason: "pairing_expired", fleet_id: null });
    // Same fleet id: the lease is re-entrant, so the new link is granted at once.
    const again = await connectInstance(id, "fleet-state");
    const grant = await again.next();
    expect(grant).toMatchObject({ event: "lease.granted", data: { config: { parked: "pairing_expired" } } });

    // A number that is not parked is granted without it.
    const other = await heldInstance();
    await report(other.fleet, [connected]);
    other.fleet.ws.close(1001, "gone");
    await other.fleet.closed;
    const back = await connectInstance(other.id, "fleet-state");
    expect((await back.next()).data.config.parked).toBeUndefined();
  });

  it("GET /qr (or the fleet:qr command) on an expired pairing starts it again: the fleet is told to restart", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [{ state: "disconnected", reason: "pairing_expired" }]);
    const asked: string[] = [];
    fleet.serve((method) => {
      asked.push(method);
      // As the real fleet does, the restart is said before it is answered.
      if (method === "instance.restart") fleet.event("status", { state: "connecting" });
      return {};
    });
    const res = await call(`/instances/${id}/qr`, { token: key });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: "no_qr", details: { state: "connecting" } });
    expect(res.json.error.message).toMatch(/started again/);
    expect(asked).toEqual(["instance.restart"]);

    // `npm run fleet:qr` asks through the fleet's route: the same.
    await report(fleet, [{ state: "disconnected", reason: "pairing_expired" }]);
    const cli = await call(`/fleet/instances/${id}/qr`, { token: FLEET });
    expect(cli.status).toBe(200);
    expect(cli.json).toMatchObject({ state: "connecting", qr: null });
    expect(asked).toEqual(["instance.restart", "instance.restart"]);

    // Its later polls only look: a pairing that expires while it watches stays expired.
    await report(fleet, [{ state: "disconnected", reason: "pairing_expired" }]);
    const watching = await call(`/fleet/instances/${id}/qr?restart=false`, { token: FLEET });
    expect(watching.status).toBe(200);
    expect(watching.json).toMatchObject({ state: "disconnected", reason: "pairing_expired", qr: null });
    expect(asked).toEqual(["instance.restart", "instance.restart"]);
  });
});

describe("dead sockets", () => {
  it("GET /instances/{id} counts the sockets the fleet replaced because they went silent", async () => {
    const { key, id, fleet } = await heldInstance();
    await report(fleet, [connected]);
    expect((await instanceOf(key, id)).dead_socket_reconnects).toBe(0);
    fleet.event("socket.silent", { silent_ms: 45_300 });
    fleet.event("socket.silent", { silent_ms: 46_100 });
    await report(fleet, [{ state: "disconnected", reason: "transient", close_code: 408 }, ...retry, connected]);
    expect((await instanceOf(key, id)).dead_socket_reconnects).toBe(2);
    const list = (await call("/instances", { token: key })).json.data;
    expect(list.find((i: { id: string }) => i.id === id).dead_socket_reconnects).toBe(2);
  });
});

describe("importing a session right after creating the instance", () => {
  it("waits for a fleet that is still starting to take the number, then answers 202", async () => {
    const { api_key: key } = await newProject();
    const { id } = await newInstance(key);
    // No fleet process is online yet: it is still starting (a deploy, `npm start`).
    const started = Date.now();
    const pending = call(`/instances/${id}/session`, { method: "POST", token: key, body: sessionCreds() });
    await new Promise((r) => setTimeout(r, 1_000));
    // The waiting number rides in the new fleet's first (complete) list.
    const { first } = await joinDirectory("fleet-late");
    expect(first).toMatchObject({ event: "assign", data: { instance_ids: [id] } });
    const link = await connectInstance(id, "fleet-late");
    expect((await link.next()).event).toBe("lease.granted");
    const asked: string[] = [];
    link.serve((method) => {
      asked.push(method);
      return {};
    });
    const res = await pending;
    expect(res.status).toBe(202);
    expect(asked).toEqual(["instance.import_session"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });
});

import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../edge/objects/instance-storage.ts";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { ADMIN, call, connectInstance, connectedFleet, newInstance, newProject, noPacing, sessionCreds, waitFor } from "./helpers.ts";

async function setup() {
  const { api_key } = await newProject();
  const instance = await newInstance(api_key);
  return { key: api_key, id: instance.id };
}


describe("one fleet process per number: the lease", () => {
  it("grants the first fleet, denies a second one while the first holds it", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    const granted = await a.next();
    expect(granted).toMatchObject({ t: "evt", event: "lease.granted", data: { instance_id: id, ttl_ms: 15_000 } });

    const b = await connectInstance(id, "fleet-b");
    const denied = await b.next();
    expect(denied).toMatchObject({ event: "lease.denied", data: { holder: "fleet-a" } });
    expect(denied.data.retry_after_ms).toBeGreaterThan(0);
    expect((await b.closed).code).toBe(4001);
    expect(a.isClosed).toBe(false);
  });

  it("renews through ping/pong answered without a frame reaching the fleet protocol", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.send("ping");
    expect(await a.next()).toBe("pong");
  });

  it("is re-entrant: the same fleet reconnecting after a blip gets it back at once", async () => {
    const { id } = await setup();
    const first = await connectInstance(id, "fleet-a");
    await first.next();
    const again = await connectInstance(id, "fleet-a");
    expect((await again.next()).event).toBe("lease.granted");
    // The older socket of the same fleet is let go, so only one link is live.
    expect((await first.closed).code).toBe(4001);
  });

  it("keeps the lease after a holder's link drops until its pings would have lapsed", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.ws.close(1001, "gone");
    await a.closed;
    // The process may still be alive with its WhatsApp socket open: others wait.
    let denied: any;
    for (let i = 0; i < 20 && !denied; i++) {
      const b = await connectInstance(id, "fleet-b");
      const frame = await b.next();
      if (frame.event === "lease.denied") denied = frame;
    }
    expect(denied.data.retry_after_ms).toBeGreaterThan(10_000);
    expect(denied.data.retry_after_ms).toBeLessThanOrEqual(15_000);

    // Once that time has passed (moved forward here), another fleet takes over.
    await runInDurableObject(instanceOf(env, id), async (_o, state) => {
      const lease = (await state.storage.get<LeaseRecord>("lease"))!;
      await state.storage.put("lease", { ...lease, expires_at: Date.now() - 1 });
    });
    const c = await connectInstance(id, "fleet-c");
    expect((await c.next()).event).toBe("lease.granted");
  });

  it("ends the lease at once when the holder releases it (drain)", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.event("status", { state: "connected", jid: "5511988887777:3@s.whatsapp.net" });
    a.event("release", {});
    expect((await a.closed).code).toBe(1000);
    const b = await connectInstance(id, "fleet-b");
    expect((await b.next()).event).toBe("lease.granted");
    const instance = await call(`/instances/${id}`, { token: key });
    expect(instance.json.fleet_id).toBe("fleet-b");
  });

  it("refuses a fleet that speaks another protocol version", async () => {
    const { id } = await setup();
    const { fleetSocket } = await import("./helpers.ts");
    const old = await fleetSocket(`/fleet/instances/${id}/connect?fleet_id=a&v=99`);
    expect((await old.closed).code).toBe(4400);
  });
});

describe("status the fleet reports", () => {
  it("is what GET /instances shows: state, reason, phone, close code and holder", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.event("status", { state: "connected", jid: "5511988887777:3@s.whatsapp.net", lid: "123@lid", push_name: "Loja" });
    await a.request("session.get", { keys: [] }); // a round trip: the event before it was applied
    let instance = (await call(`/instances/${id}`, { token: key })).json;
    expect(instance).toMatchObject({
      state: "connected",
      reason: null,
      phone: "+5511988887777",
      lid: "123@lid",
      push_name: "Loja",
      fleet_id: "fleet-a",
    });

    a.event("status", { state: "disconnected", reason: "banned", close_code: 403 });
    await a.request("session.get", { keys: [] });
    instance = (await call(`/instances/${id}`, { token: key })).json;
    expect(instance).toMatchObject({ state: "disconnected", reason: "banned", last_close_code: 403 });
    expect(instance.last_close_at).toBeTruthy();
  });

  it("turns to disconnected/transient when the holder's link drops, but a ban stays a ban", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.event("status", { state: "connected", jid: "5511988887777:3@s.whatsapp.net" });
    await a.request("session.get", { keys: [] });
    a.ws.close(1001, "gone");
    await a.closed;
    let instance: any;
    for (let i = 0; i < 40; i++) {
      instance = (await call(`/instances/${id}`, { token: key })).json;
      if (instance.state === "disconnected") break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(instance).toMatchObject({ state: "disconnected", reason: "transient", fleet_id: null });
  });

  it("serves the QR while pairing, and says why when there is none", async () => {
    const { id, key } = await setup();
    const none = await call(`/instances/${id}/qr`, { token: key });
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe("no_qr");
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.event("status", { state: "qr_pending", qr: "2@abc,def", qr_png: "data:image/png;base64,iVBOR" });
    await a.request("session.get", { keys: [] });
    const qr = await call(`/instances/${id}/qr`, { token: key });
    expect(qr.status).toBe(200);
    expect(qr.json).toEqual({ state: "qr_pending", qr: "2@abc,def", png: "data:image/png;base64,iVBOR" });
    expect((await call(`/instances/${id}`, { token: key })).json.state).toBe("qr_pending");
  });
});

describe("session storage through the edge", () => {
  it("stores and returns ciphertext by key, deleting with null", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    const written = await a.request("session.set", { entries: { creds: "v1.c", "pre-key:1": "v1.p1", "pre-key:2": "v1.p2" } });
    expect(written).toMatchObject({ ok: true, result: { written: 3 } });
    await a.request("session.set", { entries: { "pre-key:1": null } });
    const read = await a.request("session.get", { keys: ["creds", "pre-key:1", "pre-key:2", "session:x"] });
    expect(read.result.values).toEqual({ creds: "v1.c", "pre-key:1": null, "pre-key:2": "v1.p2", "session:x": null });
  });

  it("stores the session writes a send's answer carries with the send's own step, no session.set needed; a fleet that carries none still works", async () => {
    const { id, key } = await setup();
    await noPacing(key);
    const ratchet = { "session:5511988887777.0": "v1.ratchet-step-1", "pre-key:3": null };
    const fleet = await connectedFleet(id, {
      answer: (frame) =>
        frame.content.text === "old fleet"
          ? undefined
          : { wa_message_id: frame.wa_message_id, timestamp: Math.floor(Date.now() / 1000), message_secret: null, poll_message: null, session: ratchet },
    });
    await fleet.socket.request("session.set", { entries: { "pre-key:3": "v1.p3", "session:5511988887777.0": "v1.ratchet-step-0" } });
    const send = (body: string) => call("/messages/text", { method: "POST", token: key, body: { to: "5511988887777@s.whatsapp.net", body, instance_id: id } });
    const stored = () =>
      runInDurableObject(instanceOf(env, id), (_obj, state) =>
        Object.fromEntries(state.storage.sql.exec<{ k: string; v: string }>("SELECT k, v FROM session").toArray().map((r) => [r.k, r.v])),
      );

    expect((await send("hello")).status).toBe(202);
    await waitFor(async () => fleet.sends.length === 1 && (await instanceOf(env, id).queueSize()) === 0, 3_000, "the send answered");
    // The message left the queue in the step that stored its keys: both are there, the fleet sent nothing else.
    expect(await stored()).toEqual({ "session:5511988887777.0": "v1.ratchet-step-1" });
    const read = await fleet.socket.request("session.get", { keys: ["session:5511988887777.0", "pre-key:3"] });
    expect(read.result.values).toEqual({ "session:5511988887777.0": "v1.ratchet-step-1", "pre-key:3": null });

    expect((await send("old fleet")).status).toBe(202);
    await waitFor(async () => fleet.sends.length === 2 && (await instanceOf(env, id).queueSize()) === 0, 3_000, "the second send answered");
    expect(await stored()).toEqual({ "session:5511988887777.0": "v1.ratchet-step-1" });
  });

  it("stores the session entries of a send's answer nobody waits for any more (the object restarted or gave up on it)", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    a.send({ t: "res", id: 987_654, ok: true, result: { wa_message_id: "3EB0LATE", timestamp: 1, session: { "session:5511988887777.0": "v1.late-step" } } });
    const read = await a.request("session.get", { keys: ["session:5511988887777.0"] });
    expect(read.result.values).toEqual({ "session:5511988887777.0": "v1.late-step" });
  });

  it("survives the fleet going away: a new holder reads what the old one wrote", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    await a.request("session.set", { entries: { creds: "v1.creds" } });
    a.event("release", {});
    await a.closed;
    const b = await connectInstance(id, "fleet-b");
    await b.next();
    expect((await b.request("session.get", { keys: ["creds"] })).result.values.creds).toBe("v1.creds");
  });

  it("writes one keys.set as a unit: a write that fails leaves nothing half-done", async () => {
    const { id } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    await a.request("session.set", { entries: { "pre-key:1": "old" } });
    // A value of the wrong type is refused before anything is written.
    const bad = await a.request("session.set", { entries: { "pre-key:1": "new", "pre-key:2": 5 } });
    expect(bad.ok).toBe(false);
    // Many keys at once (Baileys uploads hundreds of pre-keys in one call).
    const many = Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`pre-key:${i + 10}`, `k${i}`]));
    expect((await a.request("session.set", { entries: many })).result.written).toBe(900);
    const read = await a.request("session.get", { keys: ["pre-key:1", "pre-key:2", "pre-key:909"] });
    expect(read.result.values).toEqual({ "pre-key:1": "old", "pre-key:2": null, "pre-key:909": "k899" });
    const partial = await runInDurableObject(instanceOf(env, id), (_o, state) =>
      state.storage.sql.exec("SELECT COUNT(*) AS n FROM session").one().n,
    );
    expect(partial).toBe(901);
  });
});

describe("commands from the API to the fleet", () => {
  it("reaches the fleet holding the number and returns its answer", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    const seen: string[] = [];
    let importedCreds: any;
    a.serve((method, params) => {
      seen.push(method);
      if (method === "instance.import_session") importedCreds = params.creds;
      return method === "instance.pairing_code" ? { code: `CODE${params.phone.slice(-4)}` } : {};
    });
    const code = await call(`/instances/${id}/pairing-code`, { method: "POST", token: key, body: { phone: "+55 11 98888-7777" } });
    expect(code.status).toBe(200);
    expect(code.json).toEqual({ code: "CODE7777" });
    expect((await call(`/instances/${id}/restart`, { method: "POST", token: key })).status).toBe(202);
    const imported = await call(`/instances/${id}/session`, { method: "POST", token: key, body: sessionCreds() });
    expect(imported.status).toBe(202);
    expect(seen).toEqual(["instance.pairing_code", "instance.restart", "instance.import_session"]);
    // The creds reach the fleet exactly as Baileys wrote them; the edge keeps none of it.
    expect(importedCreds).toEqual(sessionCreds());
  });

  it("answers 409 fleet_unavailable when no fleet runs the number: a restart at once, an import once it waited 10 s for one", async () => {
    const { id, key } = await setup();
    const res = await call(`/instances/${id}/restart`, { method: "POST", token: key });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("fleet_unavailable");
    // An import waits up to 10 s for a fleet to take the number (one may be starting); with none at all, a clear 409 after that.
    const started = Date.now();
    const imported = await call(`/instances/${id}/session`, { method: "POST", token: key, body: sessionCreds() });
    expect(imported.status).toBe(409);
    expect(imported.json.error.code).toBe("fleet_unavailable");
    expect(imported.json.error.message).toMatch(/waited 10 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_500);
  }, 20_000);

  it("answers 404 when pinging an instance that does not exist", async () => {
    const res = await call("/admin/instances/nope/ping", { method: "POST", token: ADMIN });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("not_found");
  });

  it("logs out with no fleet online by forgetting the session", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    await a.request("session.set", { entries: { creds: "v1.c" } });
    a.event("release", {});
    await a.closed;
    const res = await call(`/instances/${id}/logout`, { method: "POST", token: key });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: "disconnected", reason: "logged_out" });
    const b = await connectInstance(id, "fleet-b");
    await b.next();
    expect((await b.request("session.get", { keys: ["creds"] })).result.values.creds).toBeNull();
  });

  it("deletes: the fleet is told to log out, its link is closed, and nothing is left", async () => {
    const { id, key } = await setup();
    const a = await connectInstance(id, "fleet-a");
    await a.next();
    await a.request("session.set", { entries: { creds: "v1.c" } });
    const seen: string[] = [];
    a.serve((method) => {
      seen.push(method);
      return {};
    });
    expect((await call(`/instances/${id}`, { method: "DELETE", token: key })).status).toBe(204);
    expect(seen).toEqual(["instance.logout"]);
    expect((await a.closed).code).toBe(4004);
    expect((await call(`/instances/${id}`, { token: key })).status).toBe(404);
    const left = await runInDurableObject(instanceOf(env, id), async (_o, state) => (await state.storage.list()).size);
    expect(left).toBe(0);
    // A fleet that comes back for it is turned away.
    await expect(connectInstance(id, "fleet-a")).rejects.toThrow(/404/);
  });
});

/**
 * `PATCH /messages/{id}` (edit) and `DELETE /messages/{id}` (cancel a queued
 * message, delete a sent one for everyone) on the edge: real D1 and Durable
 * Objects, and a fleet WebSocket on the real protocol that records the
 * `message.edit` / `message.revoke` it is asked for. (What WhatsApp receives
 * is tested against the peer in test/e2e/message-actions.test.ts.)
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import {
  call,
  closeFleetSockets,
  connectedFleet,
  deliver,
  eventsUntil,
  fail,
  inboundMessage,
  messageOf,
  newProject,
  projectWithNumber,
  useFleetSockets,
  waitFor,
} from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "5511988887777@s.whatsapp.net";
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAACAAFUok9dAAAAAElFTkSuQmCC";
const WA_ID = /^3EB0[0-9A-F]{20}$/;
const MINUTE = 60_000;

const send = async (key: string, type: string, body: object) => {
  const res = await call(`/messages/${type}`, { method: "POST", token: key, body: { to: CUSTOMER, ...body } });
  expect(res.status, JSON.stringify(res.json)).toBe(202);
  return res.json.id as string;
};
const edit = (key: string, id: string, body: unknown) => call(`/messages/${id}`, { method: "PATCH", token: key, body });
const remove = (key: string, id: string) => call(`/messages/${id}`, { method: "DELETE", token: key });
const statusOf = async (key: string, id: string) => (await messageOf(key, id)).status as string;
const reached = (key: string, id: string, status: string) => waitFor(async () => (await statusOf(key, id)) === status, 3_000, `${id} ${status}`);

/**
 * A connected number whose fleet records edits and revokes; `sentAgoMs`
 * backdates what WhatsApp stamps on sends (its windows count from there).
 */
async function number(opts: { sentAgoMs?: number; fleetAnswers?: (method: string) => unknown } = {}) {
  const { key, projectId, id } = await projectWithNumber();
  const edits: any[] = [];
  const revokes: any[] = [];
  const fleet = await connectedFleet(id, {
    answer: (frame) => ({ wa_message_id: frame.wa_message_id, timestamp: Math.floor((Date.now() - (opts.sentAgoMs ?? 0)) / 1000), message_secret: null, poll_message: null }),
    methods: {
      "message.edit": (params) => {
        edits.push(params);
        return opts.fleetAnswers?.("message.edit") ?? { edit_id: params.edit_id };
      },
      "message.revoke": (params) => {
        revokes.push(params);
        return opts.fleetAnswers?.("message.revoke") ?? { revoked: params.parts.length };
      },
    },
  });
  /** A message sent through this number, once WhatsApp has it. */
  const sent = async (type = "text", body: object = { body: "Seu pedido sai hoje" }) => {
    const id = await send(key, type, body);
    await reached(key, id, "sent");
    return id;
  };
  return { key, projectId, id, fleet, edits, revokes, sent };
}

describe("PATCH /messages/{id}", () => {
  it("edits a sent text on WhatsApp (the message's id, the new text, an edit id of its own), keeps the history, and announces message.edited", async () => {
    const n = await number();
    const id = await n.sent();
    const waId = (await messageOf(n.key, id)).wa_message_id;

    const res = await edit(n.key, id, { body: "Seu pedido sai amanhã" });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(n.edits).toEqual([{ chat_jid: CUSTOMER, wa_message_id: waId, type: "text", text: "Seu pedido sai amanhã", edit_id: expect.stringMatching(WA_ID) }]);
    expect(n.edits[0].edit_id).not.toBe(waId);
    expect(res.json).toMatchObject({ id, status: "sent", content: { body: "Seu pedido sai amanhã" }, edited_at: expect.any(String) });
    expect(res.json.edits).toEqual([{ previous_body: "Seu pedido sai hoje", body: "Seu pedido sai amanhã", by: "api", at: res.json.edited_at }]);
    // GET shows the same; the search lists edited_at but not the history.
    const { history: _h, ...shown } = await messageOf(n.key, id);
    const { history: _h2, ...answered } = res.json;
    expect(shown).toEqual(answered);
    const found = await call(`/messages?status=sent`, { token: n.key });
    expect(found.json.data[0]).toMatchObject({ id, edited_at: res.json.edited_at });
    expect(found.json.data[0]).not.toHaveProperty("edits");

    const events = await eventsUntil(n.key, (es) => es.some((e) => e.type === "message.edited"));
    const announced = events.find((e) => e.type === "message.edited");
    expect(announced).toMatchObject({
      instance_id: n.id,
      contact_id: expect.any(String),
      conversation_id: expect.any(String),
      payload: { message_id: id, wa_message_id: waId, chat_jid: CUSTOMER, direction: "outbound", by: "api", previous_body: "Seu pedido sai hoje", body: "Seu pedido sai amanhã", edited_at: res.json.edited_at },
    });
  });

  it("to the body it already has answers 200 and sends nothing; a later edit has a new edit id, also back to an earlier body", async () => {
    const n = await number();
    const id = await n.sent();
    expect((await edit(n.key, id, { body: "B" })).status).toBe(200);
    const again = await edit(n.key, id, { body: "B" });
    expect(again.status).toBe(200);
    expect(again.json.edits).toHaveLength(1);
    expect(n.edits).toHaveLength(1);
    expect((await edit(n.key, id, { body: "Seu pedido sai hoje" })).status).toBe(200);
    const third = await edit(n.key, id, { body: "B" });
    expect(third.json.edits.map((e: any) => [e.previous_body, e.body])).toEqual([
      ["Seu pedido sai hoje", "B"],
      ["B", "Seu pedido sai hoje"],
      ["Seu pedido sai hoje", "B"],
    ]);
    expect(new Set(n.edits.map((e) => e.edit_id)).size).toBe(3);
  });

  it("edits the caption of a sent image, and a text written on the number's own phone", async () => {
    const n = await number();
    const image = await n.sent("image", { media: { base64: PNG, caption: "look", filename: "dot.png" } });
    const res = await edit(n.key, image, { body: "look again" });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(n.edits.at(-1)).toMatchObject({ type: "image", text: "look again" });
    expect(res.json.content.media).toMatchObject({ caption: "look again", filename: "dot.png", mimetype: "image/png" });

    const phone = await deliver(n.fleet.socket, inboundMessage(CUSTOMER, { from_me: true, body: "typed on the phone" }));
    const fixed = await edit(n.key, phone.message_id, { body: "typed on the phone, fixed" });
    expect(fixed.status, JSON.stringify(fixed.json)).toBe(200);
    expect(fixed.json.content.body).toBe("typed on the phone, fixed");
    expect(n.edits.at(-1)).toMatchObject({ type: "text", text: "typed on the phone, fixed" });
  });

  it("refuses, each with its 409 code and nothing sent to WhatsApp: not sent yet, failed, canceled, deleted, the customer's, a type with no text, past 15 minutes", async () => {
    const n = await number();
    const failedFleet = await projectWithNumber();
    const failing = await connectedFleet(failedFleet.id, { answer: () => fail("invalid_content") });
    const failed = await send(failedFleet.key, "text", { body: "never" });
    await reached(failedFleet.key, failed, "failed");
    expect(failing.sends).toHaveLength(1);
    expect((await edit(failedFleet.key, failed, { body: "x" })).json.error.code).toBe("not_sent");

    const location = await n.sent("location", { latitude: -23.5, longitude: -46.6, name: "Loja" });
    const deleted = await n.sent();
    expect((await remove(n.key, deleted)).status).toBe(200);
    const theirs = await deliver(n.fleet.socket, inboundMessage(CUSTOMER, { body: "oi" }));
    const cases: [string, string][] = [
      [location, "not_editable"],
      [deleted, "message_deleted"],
      [theirs.message_id, "not_ours"],
    ];
    for (const [id, code] of cases) {
      const res = await edit(n.key, id, { body: "changed" });
      expect(res.status, code).toBe(409);
      expect(res.json.error.code).toBe(code);
    }

    // Queued (its number offline; pinned to it, so the send does not race the drop to find it still connected), and then canceled.
    closeFleetSockets();
    await waitFor(async () => (await instanceOf(env, n.id).status())?.state !== "connected", 3_000, "the number to drop");
    const queued = await send(n.key, "text", { body: "waiting", instance_id: n.id });
    expect((await edit(n.key, queued, { body: "x" })).json.error).toMatchObject({ code: "not_sent", message: expect.stringContaining("not been sent") });
    expect((await remove(n.key, queued)).json.status).toBe("canceled");
    expect((await edit(n.key, queued, { body: "x" })).json.error).toMatchObject({ code: "not_sent", message: expect.stringContaining("canceled") });
    expect(n.edits).toHaveLength(0);

    const late = await number({ sentAgoMs: 16 * MINUTE });
    const old = await late.sent();
    const res = await edit(late.key, old, { body: "too late" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("edit_window_closed");
    // A retry of an edit that did land is still a 200, past the window.
    expect((await edit(late.key, old, { body: "Seu pedido sai hoje" })).status).toBe(200);
    expect(late.edits).toHaveLength(0);
    const inTime = await number({ sentAgoMs: 14 * MINUTE });
    expect((await edit(inTime.key, await inTime.sent(), { body: "just in time" })).status).toBe(200);
  });

  it("refuses a missing, empty, blank, too long or non-text body with a 400 naming body", async () => {
    const n = await number();
    const id = await n.sent();
    for (const body of [{}, { body: "" }, { body: "   " }, { body: "x".repeat(4097) }, { body: 42 }]) {
      const res = await edit(n.key, id, body);
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", details: { field: "body" } });
    }
    expect((await edit(n.key, id, { body: "x".repeat(4096) })).status).toBe(200);
    expect(n.edits).toHaveLength(1);
  });
});

describe("DELETE /messages/{id}", () => {
  it("cancels a queued message: it leaves the number's queue, turns canceled with a message.status event, and the fleet never gets it", async () => {
    const { key, id: instanceId } = await projectWithNumber();
    const id = await send(key, "text", { body: "not anymore", instance_id: instanceId });
    expect(await instanceOf(env, instanceId).queueSize()).toBe(1);

    const res = await remove(key, id);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ id, status: "canceled", content: { body: "not anymore" } });
    expect(res.json.history.map((h: any) => h.status)).toEqual(["queued", "canceled"]);
    expect(await instanceOf(env, instanceId).queueSize()).toBe(0);
    const events = await eventsUntil(key, (es) => es.some((e) => e.type === "message.status"));
    expect(events.find((e) => e.type === "message.status")).toMatchObject({ payload: { message_id: id, status: "canceled", chat_jid: CUSTOMER } });

    // The number comes back: nothing leaves.
    const fleet = await connectedFleet(instanceId);
    const next = await send(key, "text", { body: "this one goes", instance_id: instanceId });
    await reached(key, next, "sent");
    expect(fleet.sends.map((s) => s.content.text)).toEqual(["this one goes"]);
    // Again: the message as it is.
    const again = await remove(key, id);
    expect(again.status).toBe(200);
    expect(again.json.status).toBe("canceled");
    expect(again.json.history).toHaveLength(2);
  });

  it("answers 409 sending while the message is being handed to WhatsApp; once sent, the same DELETE deletes it for everyone", async () => {
    const { key, id: instanceId } = await projectWithNumber();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const revokes: any[] = [];
    const fleet = await connectedFleet(instanceId, {
      answer: (frame) => held.then(() => ({ wa_message_id: frame.wa_message_id, timestamp: Math.floor(Date.now() / 1000), message_secret: null, poll_message: null })),
      methods: { "message.revoke": (params) => (revokes.push(params), { revoked: params.parts.length }) },
    });
    const id = await send(key, "text", { body: "in flight" });
    await waitFor(() => fleet.sends.length === 1, 3_000, "the send to reach the fleet");
    const busy = await remove(key, id);
    expect(busy.status).toBe(409);
    expect(busy.json.error).toMatchObject({ code: "sending", message: expect.stringContaining("DELETE it again") });
    release();
    await reached(key, id, "sent");
    const res = await remove(key, id);
    expect(res.status).toBe(200);
    expect(res.json.status).toBe("deleted");
    expect(revokes).toHaveLength(1);
  });

  it("deletes a sent message for everyone (every part of an OTP), keeps it as a deleted tombstone with its content, announces message.deleted, and answers a repeat as it is", async () => {
    const n = await number();
    const id = await n.sent();
    const waId = (await messageOf(n.key, id)).wa_message_id;
    const res = await remove(n.key, id);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(n.revokes).toEqual([{ chat_jid: CUSTOMER, parts: [{ wa_message_id: waId, revoke_id: expect.stringMatching(WA_ID) }] }]);
    expect(res.json).toMatchObject({ id, status: "deleted", reason: "deleted_by_api", content: { body: "Seu pedido sai hoje" } });
    const events = await eventsUntil(n.key, (es) => es.some((e) => e.type === "message.deleted"));
    expect(events.find((e) => e.type === "message.deleted")).toMatchObject({
      instance_id: n.id,
      payload: { message_id: id, wa_message_id: waId, chat_jid: CUSTOMER, direction: "outbound", by: "api", deleted_at: expect.any(String) },
    });
    const again = await remove(n.key, id);
    expect(again.status).toBe(200);
    expect(again.json.status).toBe("deleted");
    expect(n.revokes).toHaveLength(1);

    const otp = await n.sent("otp", { code: "738291" });
    const parts = (await messageOf(n.key, otp)).wa_message_ids;
    expect(parts).toHaveLength(2);
    expect((await remove(n.key, otp)).json.status).toBe("deleted");
    expect(n.revokes[1].parts.map((p: any) => p.wa_message_id)).toEqual(parts);
    expect(new Set(n.revokes[1].parts.map((p: any) => p.revoke_id)).size).toBe(2);
  });

  it("refuses with its 409 code and nothing sent: failed, the customer's, past 2 days and 12 hours", async () => {
    const failedFleet = await projectWithNumber();
    await connectedFleet(failedFleet.id, { answer: () => fail("invalid_content") });
    const failed = await send(failedFleet.key, "text", { body: "never" });
    await reached(failedFleet.key, failed, "failed");
    const refused = await remove(failedFleet.key, failed);
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe("not_sent");

    const n = await number();
    const theirs = await deliver(n.fleet.socket, inboundMessage(CUSTOMER, { body: "oi" }));
    expect((await remove(n.key, theirs.message_id)).json.error.code).toBe("not_ours");
    expect(await statusOf(n.key, theirs.message_id)).toBe("received");

    const late = await number({ sentAgoMs: 60 * 60 * MINUTE + MINUTE });
    const old = await late.sent();
    const res = await remove(late.key, old);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("delete_window_closed");
    expect(await statusOf(late.key, old)).toBe("sent");
    const inTime = await number({ sentAgoMs: 60 * 60 * MINUTE - MINUTE });
    expect((await remove(inTime.key, await inTime.sent())).json.status).toBe("deleted");
    expect([...n.revokes, ...late.revokes]).toHaveLength(0);
  });
});

describe("PATCH and DELETE /messages/{id}, either way", () => {
  it("answer 409 not_connected (as other commands to an offline number do) with Retry-After while the number is offline, and store nothing", async () => {
    const n = await number();
    const id = await n.sent();
    closeFleetSockets();
    await waitFor(async () => (await instanceOf(env, n.id).status())?.state !== "connected", 3_000, "the number to drop");
    for (const res of [await edit(n.key, id, { body: "offline" }), await remove(n.key, id)]) {
      expect(res.status).toBe(409);
      expect(res.json.error.code).toBe("not_connected");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    }
    const message = await messageOf(n.key, id);
    expect(message).toMatchObject({ status: "sent", edited_at: null, edits: [], content: { body: "Seu pedido sai hoje" } });

    // A fleet whose socket just went away answers not_connected: the same 409.
    const dropping = await number({ fleetAnswers: () => fail("not_connected") });
    const other = await dropping.sent();
    expect((await edit(dropping.key, other, { body: "x" })).status).toBe(409);
    expect((await remove(dropping.key, other)).status).toBe(409);
    expect(await messageOf(dropping.key, other)).toMatchObject({ status: "sent", edits: [] });
  });

  it("answer 404 for another project's message, as for an unknown id, and change nothing", async () => {
    const n = await number();
    const id = await n.sent();
    const other = await newProject("other");
    for (const res of [
      await edit(other.api_key, id, { body: "theirs" }),
      await remove(other.api_key, id),
      await edit(n.key, "no-such-id", { body: "x" }),
      await remove(n.key, "no-such-id"),
    ]) {
      expect(res.status).toBe(404);
      expect(res.json.error).toMatchObject({ code: "not_found", message: "message not found" });
    }
    expect(n.edits).toHaveLength(0);
    expect(n.revokes).toHaveLength(0);
    expect(await statusOf(n.key, id)).toBe("sent");
    // Its own project may.
    expect((await edit(n.key, id, { body: "ours" })).status).toBe(200);
  });
});

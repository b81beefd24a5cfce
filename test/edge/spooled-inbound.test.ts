/**
 * Received messages that a fleet process brings over HTTP from its spool
 * (`POST /fleet/instances/{id}/received`): it holds no granted link to the
 * number (the lease moved, or it is draining) while the message waited on
 * its disk. The same message by either path is one message.
 */
import { describe, expect, it } from "vitest";
import {
  FLEET,
  call,
  useFleetSockets,
  connectedFleet,
  deliver,
  eventsUntil,
  inboundMessage,
  newInstance,
  newProject,
} from "./helpers.ts";

useFleetSockets();

const PHONE_JID = "5511988887777@s.whatsapp.net";
const LID = "123456789012345@lid";

async function setup() {
  const { api_key: key } = await newProject();
  const instance = await newInstance(key);
  return { key, id: instance.id };
}

const fromSpool = (id: string, body: unknown, token: string | null = FLEET) =>
  call(`/fleet/instances/${id}/received`, { method: "POST", token: token ?? undefined, body });
const history = async (key: string, jid: string) => (await call(`/conversations/${encodeURIComponent(jid)}/messages`, { token: key })).json;
const received = (events: any[]) => events.filter((e) => e.type === "message.received");

describe("received messages from a fleet's spool, over HTTP", () => {
  it("stores a message with no fleet link to the number, once: the same message again over HTTP, or over the link, is a duplicate and announces nothing", async () => {
    const { key, id } = await setup();
    const message = inboundMessage(PHONE_JID, { body: "esperou no disco", offline: true });
    const first = await fromSpool(id, { message, mappings: [] });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ message_id: expect.any(String), duplicate: false });
    const again = await fromSpool(id, { message });
    expect(again.json).toEqual({ message_id: first.json.message_id, duplicate: true });

    // The number's lease holder sends it too (two processes drained the same row): still one message.
    const fleet = await connectedFleet(id);
    expect(await deliver(fleet.socket, message)).toEqual({ message_id: first.json.message_id, duplicate: true });

    const page = await history(key, PHONE_JID);
    expect(page.data.map((m: any) => [m.id, m.body, m.instance_id])).toEqual([[first.json.message_id, "esperou no disco", id]]);
    const events = await eventsUntil(key, (e) => received(e).length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(received(await eventsUntil(key, () => true))).toHaveLength(1);
    expect(received(events)[0]).toMatchObject({ instance_id: id, payload: { body: "esperou no disco", message_id: first.json.message_id } });
  });

  it("takes the same message over the link and over HTTP at the same moment as one message with one event, a customer's and one written on the number's phone alike", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id);
    const customer = inboundMessage(PHONE_JID, { body: "duas vias" });
    const phone = inboundMessage(PHONE_JID, { from_me: true, sender_jid: "5511900000001@s.whatsapp.net", body: "respondido do celular" });
    for (const message of [customer, phone]) {
      // Two processes drained the same row: the lease holder over its link, the old one over HTTP, neither waiting for the other.
      const [byLink, byHttp] = await Promise.all([deliver(fleet.socket, message), fromSpool(id, { message, mappings: [] }).then((r) => r.json)]);
      expect(byHttp.message_id).toBe(byLink.message_id);
      expect([byLink.duplicate, byHttp.duplicate].sort()).toEqual([false, true]);
    }
    const page = await history(key, PHONE_JID);
    expect(page.data.map((m: any) => m.body).sort()).toEqual(["duas vias", "respondido do celular"]);
    const announced = (events: any[]) => events.filter((e) => e.type === "message.received" || e.type === "message.sent");
    await eventsUntil(key, (e) => announced(e).length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(announced(await eventsUntil(key, () => true)).map((e) => e.payload.body).sort()).toEqual(["duas vias", "respondido do celular"]);
  });

  it("learns the LID pairs in the body before the message: a LID-only message is filed under the customer's phone", async () => {
    const { key, id } = await setup();
    const res = await fromSpool(id, { message: inboundMessage(LID, { body: "pelo lid" }), mappings: [{ lid: LID, pn: PHONE_JID }] });
    expect(res.status).toBe(200);
    const list = (await call("/conversations", { token: key })).json;
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ chat_jid: PHONE_JID, contact: { jid: PHONE_JID, lid: LID } });
  });

  it("answers what the fleet must not retry with a stable code: no token 401, a malformed message 400 naming the field, bad JSON 400, a deleted number 404 instance_not_found", async () => {
    const { key, id } = await setup();
    const message = inboundMessage(PHONE_JID);
    expect((await fromSpool(id, { message }, null)).status).toBe(401);
    expect((await fromSpool(id, { message }, key)).status).toBe(401);

    const bad = await fromSpool(id, { message: { ...message, timestamp: "yesterday" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: "invalid_request", details: { field: "message.timestamp" } });
    const notJson = await call(`/fleet/instances/${id}/received`, { method: "POST", token: FLEET, raw: "{not json" });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe("invalid_json");

    expect((await call(`/instances/${id}`, { method: "DELETE", token: key })).status).toBe(204);
    const gone = await fromSpool(id, { message });
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe("instance_not_found");
  });

  it("hands out a file ticket the same way, or says why it cannot (media_unavailable without R2 keys; a deleted number)", async () => {
    const { key, id } = await setup();
    const file = { mime_type: "audio/ogg; codecs=opus", size: 4096, filename: null };
    const ticket = await call(`/fleet/instances/${id}/media-upload-url`, { method: "POST", token: FLEET, body: file });
    expect(ticket.status).toBe(503);
    expect(ticket.json.error.code).toBe("media_unavailable");
    const bad = await call(`/fleet/instances/${id}/media-upload-url`, { method: "POST", token: FLEET, body: { ...file, size: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("size");
    expect((await call(`/instances/${id}`, { method: "DELETE", token: key })).status).toBe(204);
    const gone = await call(`/fleet/instances/${id}/media-upload-url`, { method: "POST", token: FLEET, body: file });
    expect(gone.json.error.code).toBe("instance_not_found");
  });
});

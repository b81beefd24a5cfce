/**
 * Per-number behaviour (`PATCH /instances/{id}` `settings`), driven as a
 * fleet drives a number: the test holds its real fleet WebSocket, delivers
 * received messages and records what the edge asks of it (read receipts,
 * presence), with real D1, Durable Objects and the event hub behind.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { findMedia } from "../../edge/db/media.ts";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { uploadTicket } from "../../edge/services/media-store.ts";
import { call, connectedFleet, deliver, eventsUntil, inboundMessage, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

const PHONE_JID = "5511988887777@s.whatsapp.net";
const OTHER_JID = "5511977776666@s.whatsapp.net";
const GROUP = "120363041234567890@g.us";

useFleetSockets();

/** A connected number whose fleet records read receipts and presence asks. */
async function numberOn(instanceId: string) {
  const reads: any[] = [];
  const presence: any[] = [];
  const fleet = await connectedFleet(instanceId, {
    methods: {
      "messages.read": (params) => {
        reads.push(...params.keys);
        return { read: params.keys.length };
      },
      "presence.subscribe": (params) => {
        presence.push(params);
        return { subscribed: params.jids.length };
      },
    },
  });
  return { ...fleet, reads, presence };
}

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  return { key, projectId, id: instance.id, number: await numberOn(instance.id) };
}

/** A received file the fleet put in the bucket (its presigned PUT, done straight on the bucket: the runner serves no S3 endpoint). */
async function uploaded(projectId: string, instanceId: string) {
  const s3 = { POMBO_R2_S3_ENDPOINT: "http://127.0.0.1:9/r2", POMBO_R2_ACCESS_KEY_ID: "k", POMBO_R2_SECRET_ACCESS_KEY: "s", POMBO_R2_BUCKET: "pombo-media" };
  const ticket = await uploadTicket({ ...env, ...s3 }, { project_id: projectId, instance_id: instanceId }, { mime_type: "image/jpeg", size: 3 });
  const file = (await findMedia(db(env.DB), projectId, ticket.media_id))!;
  await env.MEDIA.put(file.r2_key, new Uint8Array([1, 2, 3]));
  return file;
}

const patch = (key: string, id: string, body: unknown) => call(`/instances/${id}`, { method: "PATCH", token: key, body });
const settle = () => new Promise((r) => setTimeout(r, 150));

describe("PATCH /instances/{id}", () => {
  it("shows the defaults in GET, changes only what is given, and answers the instance with its settings", async () => {
    const { key, id } = await setup();
    const got = await call(`/instances/${id}`, { token: key });
    expect(got.json.settings).toEqual({ ignore_groups: false, always_online: false, auto_read: null });
    const changed = await patch(key, id, { settings: { ignore_groups: true } });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ id, settings: { ignore_groups: true, always_online: false, auto_read: null } });
    const again = await patch(key, id, { settings: { auto_read: false } });
    expect(again.json.settings).toEqual({ ignore_groups: true, always_online: false, auto_read: false });
    expect((await call(`/instances/${id}`, { token: key })).json.settings).toEqual(again.json.settings);
  });

  it("bad input is a 400 naming the field; another project's instance is a 404, and it is left unchanged", async () => {
    const { key, id } = await setup();
    for (const [body, field] of [
      [{ settings: { ignore_groups: "yes" } }, "settings.ignore_groups"],
      [{ settings: { auto_read: 1 } }, "settings.auto_read"],
      [{ settings: { always_online: null } }, "settings.always_online"],
      [{ settings: { mute: true } }, "settings"],
      [{ settings: "on" }, "settings"],
    ] as const) {
      const res = await patch(key, id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details.field, JSON.stringify(body)).toBe(field);
    }
    // Only settings change here: another field is refused by name.
    const renamed = await patch(key, id, { name: "renamed" });
    expect(renamed.status).toBe(400);
    expect(renamed.json.error.message).toContain('"name"');
    const stranger = await newProject("other");
    const theirs = await patch(stranger.api_key, id, { settings: { ignore_groups: true } });
    expect(theirs.status).toBe(404);
    expect((await call(`/instances/${id}`, { token: stranger.api_key })).status).toBe(404);
    expect((await patch(key, "no-such-instance", { settings: {} })).status).toBe(404);
    expect((await call(`/instances/${id}`, { token: key })).json.settings.ignore_groups).toBe(false);
  });
});

describe("the API document", () => {
  it("declares PATCH /instances/{id} with its body and errors, the settings in GET, the project's calls setting and the call.received webhook", async () => {
    const doc = (await call("/openapi.json")).json;
    const patchOp = doc.paths["/instances/{id}"].patch;
    expect(Object.keys(patchOp.responses).sort()).toEqual(["200", "400", "401", "403", "404", "413", "415", "429"]);
    expect(patchOp.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/UpdateInstance");
    expect(Object.keys(doc.components.schemas.NumberSettings.properties).sort()).toEqual(["always_online", "auto_read", "ignore_groups"]);
    expect(doc.paths["/instances/{id}"].get.responses["200"].content["application/json"].schema.$ref).toBe("#/components/schemas/InstanceDetail");
    expect(Object.keys(doc.components.schemas.Settings.properties.calls.properties).sort()).toEqual(["message", "reject"]);
    expect(doc.webhooks["call.received"]).toBeDefined();
  });
});

describe("ignore_groups", () => {
  it("a group message to a number that ignores groups is neither stored nor announced; its one-to-one messages are, and groups come back when it is turned off", async () => {
    const { key, projectId, id, number } = await setup();
    await patch(key, id, { settings: { ignore_groups: true } });
    const inGroup = inboundMessage(GROUP, { sender_jid: OTHER_JID, body: "bom dia, grupo" });
    expect(await deliver(number.socket, inGroup)).toEqual({ message_id: null, duplicate: false });
    // A group photo the fleet already put in the bucket is not kept either.
    const file = await uploaded(projectId, id);
    const photo = inboundMessage(GROUP, {
      sender_jid: OTHER_JID,
      type: "image",
      body: null,
      media: { media_id: file.id, mime_type: "image/jpeg", filename: null, size: 3, ptt: false },
    });
    expect(await deliver(number.socket, photo)).toEqual({ message_id: null, duplicate: false });
    expect(await env.MEDIA.head(file.r2_key)).toBeNull();
    expect(await findMedia(db(env.DB), projectId, file.id)).toBeUndefined();
    const direct = await deliver(number.socket, inboundMessage(PHONE_JID, { body: "oi" }));
    expect(direct.message_id).toEqual(expect.any(String));

    const events = await eventsUntil(key, (all) => all.some((e) => e.type === "message.received"));
    expect(events.filter((e) => e.type === "message.received").map((e) => e.payload.message_id)).toEqual([direct.message_id]);
    const listed = await call(`/messages?instance_id=${id}&direction=inbound`, { token: key });
    expect(listed.json.data.map((m: any) => m.id)).toEqual([direct.message_id]);

    await patch(key, id, { settings: { ignore_groups: false } });
    const later = await deliver(number.socket, inboundMessage(GROUP, { sender_jid: OTHER_JID, body: "de novo" }));
    expect(later.message_id).toEqual(expect.any(String));
  });
});

describe("auto_read per number", () => {
  it("true on a number receipts its customers' messages while the project's auto_read is off; another number of the project does not", async () => {
    const { key, id, number } = await setup();
    const second = await newInstance(key, "n2");
    const other = await numberOn(second.id);
    await patch(key, id, { settings: { auto_read: true } });
    const mine = inboundMessage(PHONE_JID, { body: "recibo" });
    await deliver(number.socket, mine);
    await deliver(other.socket, inboundMessage(OTHER_JID, { body: "sem recibo" }));
    await waitFor(() => number.reads.length === 1, 3_000, "the automatic receipt");
    await settle();
    expect(number.reads).toEqual([{ chat_jid: PHONE_JID, wa_message_id: mine.wa_message_id, participant: null }]);
    expect(other.reads).toEqual([]);
  });

  it("false on a number sends no receipts while the project's auto_read is on; null follows the project again", async () => {
    const { key, id, number } = await setup();
    await call("/settings", { method: "PATCH", token: key, body: { auto_read: true } });
    await patch(key, id, { settings: { auto_read: false } });
    await deliver(number.socket, inboundMessage(PHONE_JID, { body: "sem recibo" }));
    await settle();
    expect(number.reads).toEqual([]);

    await patch(key, id, { settings: { auto_read: null } });
    const followed = inboundMessage(PHONE_JID, { body: "com recibo" });
    await deliver(number.socket, followed);
    await waitFor(() => number.reads.length === 1, 3_000, "the project's receipt");
    expect(number.reads[0].wa_message_id).toBe(followed.wa_message_id);
  });
});

describe("always_online", () => {
  it("turned on, the connected number is shown online at once and on every connect; turned off, offline again unless it watches someone", async () => {
    const { key, id, number } = await setup();
    await patch(key, id, { settings: { always_online: true } });
    await waitFor(() => number.presence.length === 1, 3_000, "online at once");
    expect(number.presence).toEqual([{ jids: [], online: true }]);

    // A reconnect: WhatsApp shows a new socket offline; the number says it is online again.
    number.socket.ws.close(1000, "fleet gone");
    await number.socket.closed;
    await waitFor(async () => (await instanceOf(env, id).status())?.state !== "connected", 3_000, "the number offline");
    const back = await numberOn(id);
    await waitFor(() => back.presence.length === 1, 3_000, "online on connect");
    expect(back.presence).toEqual([{ jids: [], online: true }]);

    await patch(key, id, { settings: { always_online: false } });
    await waitFor(() => back.presence.length === 2, 3_000, "offline again");
    expect(back.presence[1]).toEqual({ jids: [], online: false });

    // Watching someone keeps it online: turning always_online off then does not hide it.
    await deliver(back.socket, inboundMessage(PHONE_JID));
    expect((await call(`/conversations/${PHONE_JID}/presence/subscribe`, { method: "POST", token: key })).status).toBe(200);
    await patch(key, id, { settings: { always_online: true } });
    await patch(key, id, { settings: { always_online: false } });
    await settle();
    expect(back.presence.slice(2)).toEqual([
      { jids: [PHONE_JID], online: true },
      { jids: [], online: true },
    ]);
    // And the last subscription gone, an always-online number stays online.
    await patch(key, id, { settings: { always_online: true } });
    expect((await call(`/conversations/${PHONE_JID}/presence/subscribe`, { method: "DELETE", token: key })).status).toBe(200);
    await settle();
    expect(back.presence.at(-1)).toEqual({ jids: [], online: true });
  });
});

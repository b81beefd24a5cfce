/**
 * Edits and deletes for everyone that WhatsApp reports to a number, as the
 * fleet delivers them (`message.received` of type `edit` or `revoke`, named
 * by the envelope's own WhatsApp id, pointing at `target_id`): the stored
 * message changes, once, and `message.edited` / `message.deleted` go out.
 * (The peer's real edit and revoke envelopes are in the e2e and fleet suites.)
 */
import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { findMedia } from "../../edge/db/media.ts";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { mediaLink } from "../../edge/services/media-links.ts";
import { uploadTicket } from "../../edge/services/media-store.ts";
import {
  call,
  connectedFleet,
  deliver,
  eventsUntil,
  inboundMessage,
  messageOf,
  newInstance,
  newProject,
  noPacing,
  useFleetSockets,
  waitFor,
} from "./helpers.ts";

useFleetSockets();

const PHONE_JID = "5511988887777@s.whatsapp.net";
/** The same number without the 9th digit. */
const PHONE_8_JID = "551188887777@s.whatsapp.net";
const LID = "123456789012345@lid";
const OTHER_JID = "5511977776666@s.whatsapp.net";
const S3 = {
  POMBO_R2_S3_ENDPOINT: "http://127.0.0.1:8787/cdn-cgi/local/r2/s3",
  POMBO_R2_ACCESS_KEY_ID: "pombo-local-r2",
  POMBO_R2_SECRET_ACCESS_KEY: "pombo-local-r2-secret",
  POMBO_R2_BUCKET: "pombo-media",
};

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  const fleet = await connectedFleet(instance.id, { onWhatsApp: { "5511988887777": PHONE_JID } });
  return { key, projectId, id: instance.id, fleet };
}

/** An envelope of WhatsApp's that changes `target` (a WhatsApp id), from `chat` unless the fields say otherwise. */
const change = (type: "edit" | "revoke", target: string, chat = PHONE_JID, fields: Record<string, unknown> = {}) =>
  inboundMessage(chat, { type, target_id: target, body: null, ...fields });

/** A received file, put in the bucket as the fleet's presigned PUT would. */
async function upload(projectId: string, instanceId: string, bytes: Uint8Array) {
  const ticket = await uploadTicket({ ...env, ...S3 }, { project_id: projectId, instance_id: instanceId }, { mime_type: "image/jpeg", size: bytes.length, filename: "foto.jpg" });
  const row = await findMedia(db(env.DB), projectId, ticket.media_id);
  await env.MEDIA.put(row!.r2_key, bytes, { httpMetadata: { contentType: "image/jpeg" } });
  return { mediaId: ticket.media_id, r2Key: row!.r2_key };
}

const ofType = (type: string) => (events: any[]) => events.filter((e) => e.type === type);
const history = async (key: string, jid: string) => (await call(`/conversations/${encodeURIComponent(jid)}/messages`, { token: key })).json.data;
const fetchRaw = (url: string) => exports.default.fetch(new Request(`http://pombo.test${new URL(url).pathname}${new URL(url).search}`));
/** Lets an event that should not come have its chance to. */
const settle = () => new Promise((r) => setTimeout(r, 250));

describe("a customer edits their message", () => {
  it("replaces its body, keeps the old one in its edits, and announces message.edited with both; the same envelope again changes nothing and announces nothing", async () => {
    const { key, id, fleet } = await setup();
    const original = inboundMessage(PHONE_JID, { body: "Pedido 41" });
    const { message_id } = await deliver(fleet.socket, original);
    const edit = change("edit", original.wa_message_id, PHONE_JID, { body: "Pedido 42" });
    expect(await deliver(fleet.socket, edit)).toEqual({ message_id, duplicate: false });
    expect(await deliver(fleet.socket, edit)).toEqual({ message_id, duplicate: true });

    const events = ofType("message.edited")(await eventsUntil(key, (e) => ofType("message.edited")(e).length >= 1));
    await settle();
    expect(ofType("message.edited")(await eventsUntil(key, () => true))).toHaveLength(1);
    expect(events[0]).toMatchObject({
      instance_id: id,
      contact_id: expect.any(String),
      conversation_id: expect.any(String),
      reference: null,
      payload: {
        message_id,
        wa_message_id: original.wa_message_id,
        chat_jid: PHONE_JID,
        direction: "inbound",
        by: "customer",
        previous_body: "Pedido 41",
        body: "Pedido 42",
        edited_at: expect.any(String),
      },
    });

    const stored = await messageOf(key, message_id);
    expect(stored).toMatchObject({ status: "received", content: { body: "Pedido 42" }, edited_at: events[0].payload.edited_at });
    expect(stored.edits).toEqual([{ previous_body: "Pedido 41", body: "Pedido 42", by: "customer", at: events[0].payload.edited_at }]);
    expect((await history(key, PHONE_JID)).map((m: any) => m.body)).toEqual(["Pedido 42"]);
  });

  it("an earlier edit sent again after a later one (WhatsApp redelivering it) does not bring its text back", async () => {
    const { key, fleet } = await setup();
    const original = inboundMessage(PHONE_JID, { body: "v1" });
    const { message_id } = await deliver(fleet.socket, original);
    const first = change("edit", original.wa_message_id, PHONE_JID, { body: "v2" });
    await deliver(fleet.socket, first);
    await deliver(fleet.socket, change("edit", original.wa_message_id, PHONE_JID, { body: "v3" }));
    expect(await deliver(fleet.socket, first)).toEqual({ message_id, duplicate: true });
    const stored = await messageOf(key, message_id);
    expect(stored.content.body).toBe("v3");
    expect(stored.edits.map((e: any) => e.body)).toEqual(["v2", "v3"]);
    await eventsUntil(key, (e) => ofType("message.edited")(e).length >= 2);
    await settle();
    expect(ofType("message.edited")(await eventsUntil(key, () => true)).map((e) => e.payload.body)).toEqual(["v2", "v3"]);
  });

  it("finds the message under the other Brazilian form of the number, or under the customer's LID once its phone is known", async () => {
    const { key, fleet } = await setup();
    const original = inboundMessage(PHONE_JID, { body: "um" });
    const { message_id } = await deliver(fleet.socket, original);
    await deliver(fleet.socket, change("edit", original.wa_message_id, PHONE_8_JID, { body: "dois" }));
    // Learned before the next delivery, as the fleet sends a message's pairs just before it.
    fleet.socket.event("lid.mappings", { mappings: [{ lid: LID, pn: PHONE_JID }] });
    await deliver(fleet.socket, change("edit", original.wa_message_id, LID, { body: "três" }));
    const edits = (await messageOf(key, message_id)).edits.map((e: any) => e.body);
    expect(edits).toEqual(["dois", "três"]);
  });

  it("a repeat of an edit whose event went out announces nothing more, even where the object died before forgetting its old 'not announced' mark", async () => {
    const { key, id, fleet } = await setup();
    const original = inboundMessage(PHONE_JID, { body: "antes" });
    await deliver(fleet.socket, original);
    const edit = change("edit", original.wa_message_id, PHONE_JID, { body: "depois" });
    await deliver(fleet.socket, edit);
    // What an object that died between publishing and clearing its mark left (numbers kept such marks until events had ids made from what they announce).
    await runInDurableObject(instanceOf(env, id), (_o, state) => state.storage.put(`inbound:${edit.wa_message_id}`, Date.now()));
    await deliver(fleet.socket, edit);
    await deliver(fleet.socket, edit);
    await deliver(fleet.socket, change("edit", original.wa_message_id, PHONE_JID, { body: "marcador" }));
    await eventsUntil(key, (e) => ofType("message.edited")(e).length >= 2);
    await settle();
    const events = ofType("message.edited")(await eventsUntil(key, () => true));
    expect(events.map((e) => [e.payload.previous_body, e.payload.body])).toEqual([
      ["antes", "depois"],
      ["depois", "marcador"],
    ]);
    expect((await messageOf(key, events[0].payload.message_id)).edits).toHaveLength(2);
  });
});

describe("a customer deletes their message for everyone", () => {
  it("a received file: gone from the bucket and the media table, its signed link no longer serves it; the message stays a tombstone with no body and no media", async () => {
    const { key, projectId, id, fleet } = await setup();
    const { mediaId, r2Key } = await upload(projectId, id, new Uint8Array([1, 2, 3, 4]));
    const photo = inboundMessage(PHONE_JID, {
      type: "image",
      body: "minha foto",
      media: { media_id: mediaId, mime_type: "image/jpeg", filename: "foto.jpg", size: 4, ptt: false },
    });
    const { message_id } = await deliver(fleet.socket, photo);
    const link = await mediaLink(env, mediaId);
    expect((await fetchRaw(link)).status).toBe(200);

    const revoke = change("revoke", photo.wa_message_id);
    expect(await deliver(fleet.socket, revoke)).toEqual({ message_id, duplicate: false });
    expect(await deliver(fleet.socket, revoke)).toEqual({ message_id, duplicate: true });

    expect(await env.MEDIA.head(r2Key)).toBeNull();
    expect(await findMedia(db(env.DB), projectId, mediaId)).toBeUndefined();
    expect((await fetchRaw(link)).status).toBe(404);

    const stored = await messageOf(key, message_id);
    expect(stored).toMatchObject({ status: "deleted", reason: "deleted_by_customer", type: "image", media_id: null, content: { body: null } });
    expect(JSON.stringify(stored.content)).not.toMatch(/minha foto|foto\.jpg|media/);
    expect(stored.history.map((h: any) => h.status)).toEqual(["received", "deleted"]);
    const [entry] = await history(key, PHONE_JID);
    expect(entry).toMatchObject({ id: message_id, status: "deleted", body: null });
    expect(entry.media).toBeUndefined();

    const deleted = ofType("message.deleted")(await eventsUntil(key, (e) => ofType("message.deleted")(e).length >= 1));
    await settle();
    expect(ofType("message.deleted")(await eventsUntil(key, () => true))).toHaveLength(1);
    expect(deleted[0]).toMatchObject({
      instance_id: id,
      payload: { message_id, wa_message_id: photo.wa_message_id, chat_jid: PHONE_JID, direction: "inbound", by: "customer", deleted_at: stored.updated_at },
    });
    // A deleted message takes no more edits.
    const edit = await deliver(fleet.socket, change("edit", photo.wa_message_id, PHONE_JID, { body: "voltei" }));
    expect(edit.message_id).toBe(message_id);
    expect((await messageOf(key, message_id)).content.body).toBeNull();
  });
});

describe("a change to a message this number does not have", () => {
  it("stores nothing and announces nothing: an unknown id, an edit that overtook its message, another customer's message, another project's number", async () => {
    const { key, fleet } = await setup();
    const other = await setup();
    // Another customer of the same number, and another project's number, each with a message under the same WhatsApp id.
    const theirs = inboundMessage(OTHER_JID, { body: "de outra pessoa" });
    const { message_id: theirsId } = await deliver(fleet.socket, theirs);
    const foreign = inboundMessage(PHONE_JID, { wa_message_id: "3A0FSAMEID0001", body: "de outro projeto" });
    const { message_id: foreignId } = await deliver(other.fleet.socket, foreign);

    expect(await deliver(fleet.socket, change("edit", "3A0FNEVERSEEN", PHONE_JID, { body: "x" }))).toEqual({ message_id: null, duplicate: false });
    expect(await deliver(fleet.socket, change("revoke", theirs.wa_message_id))).toEqual({ message_id: null, duplicate: false });
    expect(await deliver(fleet.socket, change("revoke", "3A0FSAMEID0001"))).toEqual({ message_id: null, duplicate: false });
    expect(await deliver(fleet.socket, change("edit", "3A0FSAMEID0001", PHONE_JID, { body: "invadido" }))).toEqual({ message_id: null, duplicate: false });

    // The edit came first; its message after it is stored as it was sent.
    const late = inboundMessage(PHONE_JID, { body: "original" });
    await deliver(fleet.socket, change("edit", late.wa_message_id, PHONE_JID, { body: "editado antes" }));
    const { message_id: lateId } = await deliver(fleet.socket, late);

    expect(await messageOf(key, theirsId)).toMatchObject({ status: "received", content: { body: "de outra pessoa" }, edits: [] });
    expect(await messageOf(key, lateId)).toMatchObject({ status: "received", content: { body: "original" }, edits: [] });
    expect(await messageOf(other.key, foreignId)).toMatchObject({ status: "received", content: { body: "de outro projeto" }, edits: [] });
    expect((await history(key, PHONE_JID)).map((m: any) => m.body)).toEqual(["original"]);
    await settle();
    const changes = (events: any[]) => events.filter((e) => e.type === "message.edited" || e.type === "message.deleted");
    expect(changes(await eventsUntil(key, () => true))).toEqual([]);
    expect(changes(await eventsUntil(other.key, () => true))).toEqual([]);

    // The same WhatsApp id in both projects: a revoke on this number deletes this number's message only.
    const { message_id: ownId } = await deliver(fleet.socket, inboundMessage(PHONE_JID, { wa_message_id: "3A0FSAMEID0001", body: "deste projeto" }));
    expect(await deliver(fleet.socket, change("revoke", "3A0FSAMEID0001"))).toEqual({ message_id: ownId, duplicate: false });
    expect(await messageOf(key, ownId)).toMatchObject({ status: "deleted", content: { body: null } });
    expect(await messageOf(other.key, foreignId)).toMatchObject({ status: "received", content: { body: "de outro projeto" } });
    await settle();
    expect(changes(await eventsUntil(other.key, () => true))).toEqual([]);
  });
});

describe("the number's own phone app changes one of our messages", () => {
  it("an edit of our sent text is recorded by `phone`; its revoke deletes it by `phone` and keeps its content", async () => {
    const { key, id, fleet } = await setup();
    const sent = await call("/messages/text", { method: "POST", token: key, body: { to: "+5511988887777", body: "Seu pedido saiu", reference: "pedido-42" } });
    expect(sent.status).toBe(202);
    await waitFor(async () => (await messageOf(key, sent.json.id)).status === "sent", 3_000, "the send");
    const waId = fleet.sends[0]!.wa_message_id;
    const fromPhone = { from_me: true, sender_jid: "5511900000001@s.whatsapp.net" };
    // The customer cannot edit or delete what we sent.
    expect((await deliver(fleet.socket, change("edit", waId, PHONE_JID, { body: "invadido" }))).message_id).toBeNull();
    expect((await deliver(fleet.socket, change("revoke", waId))).message_id).toBeNull();

    const edit = change("edit", waId, PHONE_JID, { ...fromPhone, body: "Seu pedido saiu hoje" });
    expect(await deliver(fleet.socket, edit)).toEqual({ message_id: sent.json.id, duplicate: false });
    const stored = await messageOf(key, sent.json.id);
    expect(stored).toMatchObject({ status: "sent", content: { body: "Seu pedido saiu hoje" } });
    expect(stored.edits).toEqual([{ previous_body: "Seu pedido saiu", body: "Seu pedido saiu hoje", by: "phone", at: expect.any(String) }]);
    const [edited] = ofType("message.edited")(await eventsUntil(key, (e) => ofType("message.edited")(e).length >= 1));
    expect(edited).toMatchObject({
      instance_id: id,
      reference: "pedido-42",
      payload: { message_id: sent.json.id, wa_message_id: waId, direction: "outbound", by: "phone", previous_body: "Seu pedido saiu", body: "Seu pedido saiu hoje" },
    });

    expect(await deliver(fleet.socket, change("revoke", waId, PHONE_JID, fromPhone))).toEqual({ message_id: sent.json.id, duplicate: false });
    expect(await messageOf(key, sent.json.id)).toMatchObject({ status: "deleted", reason: "deleted_by_phone", content: { body: "Seu pedido saiu hoje" } });
    const [deleted] = ofType("message.deleted")(await eventsUntil(key, (e) => ofType("message.deleted")(e).length >= 1));
    expect(deleted).toMatchObject({ reference: "pedido-42", payload: { message_id: sent.json.id, direction: "outbound", by: "phone" } });
  });
});

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { call, connectedFleet, deliver, eventsUntil, inboundMessage, messageOf, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const MARIA = "5511988887777@s.whatsapp.net";
const JOAO = "5511977776666@s.whatsapp.net";
const ANA = "5521966665555@s.whatsapp.net";

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  return { key, id: instance.id };
}

const post = (key: string, type: string, body: object, headers: Record<string, string> = {}) =>
  call(`/status/${type}`, { method: "POST", token: key, body, headers });

/** A customer writes to the number: their conversation's number is now this one. */
async function customerWrites(socket: Parameters<typeof deliver>[0], jid: string) {
  await deliver(socket, inboundMessage(jid));
}

describe("posting a status: bad input", () => {
  it.each([
    ["no instance_id", { body: "hi" }, 400, "instance_id"],
    ["an audience entry that is no phone", { instance_id: "x", body: "hi", audience: ["+5511988887777", "not a phone"] }, 400, "audience[1]"],
    ["a group in the audience", { instance_id: "x", body: "hi", audience: ["120363041234567890@g.us"] }, 400, "audience[0]"],
    ["an empty audience", { instance_id: "x", body: "hi", audience: [] }, 400, "audience"],
    ["a colour by name", { instance_id: "x", body: "hi", background_color: "green" }, 400, "background_color"],
    ["a colour of 5 digits", { instance_id: "x", body: "hi", background_color: "#12345" }, 400, "background_color"],
    ["a font WhatsApp has not", { instance_id: "x", body: "hi", font: "comic_sans" }, 400, "font"],
    ["a text past 700 characters", { instance_id: "x", body: "x".repeat(701) }, 400, "body"],
  ])("%s -> %i naming the field", async (_what, body, status, field) => {
    const { key, id } = await setup();
    const res = await post(key, "text", { ...body, ...("instance_id" in body ? { instance_id: id } : {}) });
    expect(res.status, JSON.stringify(res.json)).toBe(status);
    expect(res.json.error.details.field).toBe(field);
    expect(await instanceOf(env, id).queueSize()).toBe(0);
  });

  it("an image status takes exactly one of url or base64", async () => {
    const { key, id } = await setup();
    const res = await post(key, "image", { instance_id: id, audience: [MARIA], media: { caption: "new menu" } });
    expect(res.status).toBe(400);
    expect(res.json.error.details.field).toBe("media.url");
  });

  it("another project's number, or none, is 404 naming instance_id, and nothing is queued", async () => {
    const mine = await setup();
    const theirs = await setup();
    for (const instanceId of [theirs.id, "no-such-number"]) {
      const res = await post(mine.key, "text", { instance_id: instanceId, body: "hi", audience: [MARIA] });
      expect(res.status).toBe(404);
      expect(res.json.error).toMatchObject({ code: "not_found", details: { field: "instance_id" } });
    }
    expect(await instanceOf(env, theirs.id).queueSize()).toBe(0);
  });

  it("a number that talks to nobody yet, and no audience: 422 no_audience", async () => {
    const { key, id } = await setup();
    const res = await post(key, "text", { instance_id: id, body: "hi" });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatchObject({ code: "no_audience", details: { field: "audience" } });
  });
});

describe("posting a status", () => {
  it("is stored and queued as a message to status@broadcast, sent with its audience, colour and font, with reference and events", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id);
    const res = await post(
      key,
      "text",
      { instance_id: id, body: "Open on Sunday", audience: [JOAO, MARIA], background_color: "#25D366", font: "calistoga_regular", reference: "promo-7" },
      { "Idempotency-Key": "status-1" },
    );
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json).toEqual({ id: expect.any(String), status: "queued", instance_id: id, chat_jid: "status@broadcast", reference: "promo-7", audience_size: 2 });

    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    expect(fleet.sends).toHaveLength(1);
    expect(fleet.sends[0]).toMatchObject({
      message_id: res.json.id,
      chat_jid: "status@broadcast",
      content: { type: "text", text: "Open on Sunday" },
      status: { audience: [JOAO, MARIA], background_color: "#25D366", font: "calistoga_regular" },
      typing_ms: 0,
    });
    const message = await messageOf(key, res.json.id);
    expect(message).toMatchObject({ type: "text", chat_jid: "status@broadcast", reference: "promo-7", wa_message_id: fleet.sends[0]!.wa_message_id });
    expect(message.content).toMatchObject({ body: "Open on Sunday", status: { audience: [JOAO, MARIA] } });
    const events = await eventsUntil(key, (all) => all.some((e) => e.type === "message.sent"));
    expect(events.find((e) => e.type === "message.sent")).toMatchObject({
      instance_id: id,
      reference: "promo-7",
      payload: { message_id: res.json.id, to: "status@broadcast", status: "sent" },
    });
    // No conversation or contact was made of status@broadcast.
    expect((await call("/conversations", { token: key })).json.data).toEqual([]);

    // The same key and body again: the first answer, nothing sent twice.
    const again = await post(
      key,
      "text",
      { instance_id: id, body: "Open on Sunday", audience: [JOAO, MARIA], background_color: "#25D366", font: "calistoga_regular", reference: "promo-7" },
      { "Idempotency-Key": "status-1" },
    );
    expect(again.status).toBe(202);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(again.json).toEqual(res.json);
    expect(fleet.sends).toHaveLength(1);
  });

  it("without an audience goes to the customers who talk to this number, leaving out opted-out ones and other numbers' customers", async () => {
    const { key, id } = await setup();
    const other = await newInstance(key, "n2");
    const fleet = await connectedFleet(id);
    const otherFleet = await connectedFleet(other.id, { jid: "5511900000002:1@s.whatsapp.net" });
    await customerWrites(fleet.socket, MARIA);
    await customerWrites(fleet.socket, JOAO);
    await customerWrites(otherFleet.socket, ANA);
    const joao = (await call(`/contacts?search=${encodeURIComponent("+5511977776666")}`, { token: key })).json.data[0];
    expect((await call(`/contacts/${joao.id}/optout`, { method: "POST", token: key, body: {} })).status).toBe(200);

    const res = await post(key, "text", { instance_id: id, body: "New hours" });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json.audience_size).toBe(1);
    await waitFor(() => fleet.sends.length === 1, 3_000, "the send");
    expect(fleet.sends[0]!.status.audience).toEqual([MARIA]);
  });

  it("an image status is sent like an image send, with its caption, to the audience named by phone", async () => {
    const { key, id } = await setup();
    const fleet = await connectedFleet(id, { onWhatsApp: { "5511988887777": MARIA, "551188887777": MARIA } });
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").toString("base64");
    const res = await post(key, "image", { instance_id: id, audience: ["+55 11 98888-7777"], media: { base64: png, mimetype: "image/png", caption: "menu" } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(() => fleet.sends.length === 1, 3_000, "the send");
    expect(fleet.sends[0]).toMatchObject({
      chat_jid: "status@broadcast",
      content: { type: "image", mimetype: "image/png", caption: "menu", media_id: expect.any(String) },
      status: { audience: [MARIA], background_color: null, font: null },
    });
  });
});

describe("a sent status", () => {
  it("is deleted for everyone to the audience it was posted to, and cannot be edited", async () => {
    const { key, id } = await setup();
    const revokes: any[] = [];
    await connectedFleet(id, { methods: { "message.revoke": (params) => (revokes.push(params), { revoked: params.parts.length }) } });
    const res = await post(key, "text", { instance_id: id, body: "Só hoje", audience: [MARIA] });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");

    const edit = await call(`/messages/${res.json.id}`, { method: "PATCH", token: key, body: { body: "Só amanhã" } });
    expect(edit.status).toBe(409);
    expect(edit.json.error.code).toBe("not_editable");

    const deleted = await call(`/messages/${res.json.id}`, { method: "DELETE", token: key });
    expect(deleted.status, JSON.stringify(deleted.json)).toBe(200);
    expect(deleted.json.status).toBe("deleted");
    expect(revokes).toEqual([
      {
        chat_jid: "status@broadcast",
        parts: [{ wa_message_id: deleted.json.wa_message_id, revoke_id: expect.any(String) }],
        status: { audience: [MARIA], background_color: null, font: null },
      },
    ]);
  });
});

describe("the OpenAPI document", () => {
  it("has each status route with its body (fonts named, colour pattern), its answer and its errors", async () => {
    const doc = (await call("/openapi.json")).json;
    for (const type of ["text", "image", "video", "audio"]) {
      const op = doc.paths[`/status/${type}`]?.post;
      expect(op, type).toBeDefined();
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["202", "400", "401", "404", "422"]));
    }
    const body = JSON.stringify(doc.paths["/status/text"].post.requestBody);
    for (const font of ["system", "fb_script", "courierprime_bold"]) expect(body).toContain(font);
    expect(body).toContain("background_color");
    expect(JSON.stringify(doc.components.schemas.StatusAccepted)).toContain("audience_size");
  });
});

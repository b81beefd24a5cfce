import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { call, connectedFleet, deliver, inboundMessage, messageOf, newInstance, newProject, noPacing, waitFor } from "./helpers.ts";

const TO = "5511988887777@s.whatsapp.net";
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAACAAFUok9dAAAAAElFTkSuQmCC";
const WEBP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiAg=";
const MP3 = btoa(String.fromCharCode(...[0x49, 0x44, 0x33, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, ...new Array(64).fill(0)]));

afterEach(() => vi.restoreAllMocks());

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const { id } = await newInstance(key);
  const fleet = await connectedFleet(id);
  const send = async (type: string, body: object) => {
    const res = await call(`/messages/${type}`, { method: "POST", token: key, body: { to: TO, ...body } });
    return res;
  };
  /** Sends and waits until the fleet got every part; returns the parts' contents. */
  const sent = async (type: string, body: object) => {
    const before = fleet.sends.length;
    const res = await send(type, body);
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, `${type} sent`);
    return { id: res.json.id as string, parts: fleet.sends.slice(before).map((s) => s.content) };
  };
  return { key, id, fleet, send, sent };
}

describe("every message type reaches the fleet as the content WhatsApp needs", () => {
  it("location, contact (given or generated vCard), poll, reaction", async () => {
    const { sent } = await setup();
    expect((await sent("location", { latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" })).parts).toEqual([
      { type: "location", latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" },
    ]);
    const vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Support\nEND:VCARD";
    expect((await sent("contact", { contact_name: "Support", contact_vcard: vcard })).parts[0]).toEqual({
      type: "contact",
      display_name: "Support",
      vcard,
    });
    const generated = (await sent("contact", { contact_name: "Ana", contact_phone: "+55 11 97777-6666" })).parts[0];
    expect(generated.vcard).toContain("FN:Ana");
    expect(generated.vcard).toContain("waid=5511977776666");
    expect((await sent("poll", { name: "Which slot?", options: ["Morning", "Afternoon", "Evening"] })).parts[0]).toEqual({
      type: "poll",
      name: "Which slot?",
      options: ["Morning", "Afternoon", "Evening"],
      selectable_count: 1,
    });
  });

  it("a reaction to our own message says from_me and goes through the number that sent it", async () => {
    const { key, id, fleet, sent } = await setup();
    const original = await sent("text", { body: "order confirmed" });
    const wa = (await messageOf(key, original.id)).wa_message_id;
    const reaction = await sent("reaction", { quoted_message_id: wa, emoji: "❤️" });
    expect(reaction.parts[0]).toEqual({ type: "reaction", emoji: "❤️", target: { id: wa, from_me: true, participant: null } });
    expect((await messageOf(key, reaction.id)).instance_id).toBe(id);
    await deliver(fleet.socket, inboundMessage(TO, { wa_message_id: "3EB0FROMCUSTOMER", body: "thanks" }));
    const theirs = await sent("reaction", { quoted_message_id: "3EB0FROMCUSTOMER", emoji: "👍" });
    expect(theirs.parts[0].target.from_me).toBe(false);
    expect(fleet.sends).toHaveLength(3);
  });

  it("buttons and lists go out as a numbered text menu", async () => {
    const { key, sent } = await setup();
    const buttons = await sent("buttons", { body: "Confirm the order?", buttons: [{ id: "yes", title: "Yes" }, { id: "no", title: "No" }] });
    expect(buttons.parts).toHaveLength(1);
    expect(buttons.parts[0].type).toBe("text");
    expect(buttons.parts[0].text).toContain("Confirm the order?");
    expect(buttons.parts[0].text).toMatch(/1\. Yes\n2\. No/);
    expect((await messageOf(key, buttons.id)).content.options).toEqual([
      { number: 1, id: "yes", title: "Yes" },
      { number: 2, id: "no", title: "No" },
    ]);
    const list = await sent("list", {
      body: "Pick a size",
      sections: [
        { title: "Shirts", rows: [{ id: "s", title: "Small", description: "fits 1-2" }] },
        { title: "Hats", rows: [{ id: "m", title: "Medium" }] },
      ],
    });
    expect(list.parts[0].text).toMatch(/1\. Small - fits 1-2[\s\S]*2\. Medium/);
  });

  it("an image, a sticker and a voice note, checked and stored before the 202, fetched back by the fleet", async () => {
    const { sent } = await setup();
    const image = (await sent("image", { media: { base64: PNG, caption: "look", filename: "dot.png" } })).parts[0];
    expect(image).toMatchObject({ type: "image", mimetype: "image/png", caption: "look", filename: "dot.png", ptt: false });
    const res = await call(`/fleet/media/${image.media_id}`, { token: "test-fleet-token" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    // The bytes the fleet gets are the bytes the client sent.
    const stored = await env.MEDIA.get(`out/${image.media_id}`);
    expect(btoa(String.fromCharCode(...new Uint8Array(await stored!.arrayBuffer())))).toBe(PNG);

    expect((await sent("sticker", { media: { base64: WEBP } })).parts[0]).toMatchObject({ type: "sticker", mimetype: "image/webp" });
    // Bytes the sniffer does not recognise: the declared type stands.
    const voice = (await sent("audio", { media: { base64: MP3, mimetype: "audio/mpeg", ptt: true, caption: "ignored" } })).parts[0];
    expect(voice).toMatchObject({ type: "audio", mimetype: "audio/mpeg", ptt: true, caption: null });
  });
});

describe("OTP", () => {
  it("goes out as a context text then the bare code, and the code is never stored or shown", async () => {
    const { key, id, sent } = await setup();
    const otp = await sent("otp", { code: "738291", expiry_minutes: 5 });
    expect(otp.parts).toHaveLength(2);
    expect(otp.parts[0].type).toBe("text");
    expect(otp.parts[0].text).toContain("5");
    expect(otp.parts[0].text).not.toContain("738291");
    expect(otp.parts[1]).toEqual({ type: "text", text: "738291" });

    const message = await messageOf(key, otp.id);
    expect(message.content.code_masked).toBe("••••91");
    expect(JSON.stringify(message)).not.toContain("738291");
    const d1 = JSON.stringify(await env.DB.prepare("SELECT * FROM messages").all());
    expect(d1).not.toContain("738291");
    // Nor while it waited in the number's queue.
    const queued = await call("/messages/otp", { method: "POST", token: key, body: { to: TO, code: "445566", instance_id: id } });
    const raw = await runInDurableObject(instanceOf(env, id), async (_o, state) =>
      JSON.stringify([...(await state.storage.list()).entries()]) + JSON.stringify(state.storage.sql.exec("SELECT * FROM outbox").toArray()),
    );
    expect(raw).not.toContain("445566");
    await waitFor(async () => (await messageOf(key, queued.json.id)).status === "sent");
  });

  it("writes its text in the project's language, with variation", async () => {
    const { key, sent } = await setup();
    await call("/settings", { method: "PATCH", token: key, body: { language: "pt-BR" } });
    const texts = new Set<string>();
    for (let i = 0; i < 6; i++) texts.add((await sent("otp", { code: `11223${i}` })).parts[0].text);
    expect([...texts].some((t) => /código/.test(t))).toBe(true);
    expect(texts.size).toBeGreaterThan(1);
    const own = await sent("otp", { code: "9999", body: "Seu código Acme:" });
    expect(own.parts[0].text).toBe("Seu código Acme:");
  });
});

describe("bad input on sends: a clear 4xx naming the field", () => {
  it.each([
    ["text", { body: "" }, "body"],
    ["text", { to: "not a phone", body: "x" }, "to"],
    ["location", { latitude: 123, longitude: 0 }, "latitude"],
    ["contact", { contact_name: " " }, "contact_name"],
    ["text", { body: "x", quoted_message_id: "" }, "quoted_message_id"],
    ["poll", { name: "Q", options: ["a"] }, "options"],
    ["poll", { name: "Q", options: ["a", "a"] }, "options"],
    ["poll", { name: "Q", options: ["a", "b"], selectable_count: 3 }, "selectable_count"],
    ["image", { media: {} }, "media.url"],
    ["image", { media: { url: "https://x.test/a.png", base64: "AAAA" } }, "media.url"],
    ["otp", { code: "12" }, "code"],
    ["buttons", { body: "x", buttons: [] }, "buttons"],
    ["text", { body: "x", sticky: "yes" }, "sticky"],
  ])("%s %j -> 400 on %s", async (type, body, field) => {
    const { send } = await setup();
    const res = await send(type, body);
    expect(res.status).toBe(400);
    expect(res.json.error.details.field).toBe(field);
  });

  it("refuses media of the wrong type, too large, or at a private address", async () => {
    const { send } = await setup();
    const notImage = await send("image", { media: { base64: btoa("just some text, not a picture") } });
    expect(notImage.status).toBe(400);
    expect(notImage.json.error.code).toBe("unsupported_media_type");
    const big = await send("sticker", { media: { base64: "A".repeat(800 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.json.error.details.field).toBe("media.base64");
    for (const url of ["http://127.0.0.1:8080/a.png", "http://10.0.0.8/a.png", "http://localhost/a.png", "http://[::1]/a.png", "http://169.254.169.254/latest"]) {
      const res = await send("image", { media: { url } });
      expect(res.status, url).toBe(400);
      expect(res.json.error.code).toBe("url_not_allowed");
    }
  });

  it("follows a few redirects, checking every hop (unit, around fetch: this machine has no internet)", async () => {
    const { send } = await setup();
    const png = Uint8Array.from(atob(PNG), (c) => c.charCodeAt(0));
    const network = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      // Names are still resolved by the test DNS resolver (vitest.config.ts).
      if (url.hostname === "doh.test") return network(input, init);
      if (url.pathname === "/ok.png") return new Response(png, { headers: { "content-type": "image/png" } });
      if (url.pathname === "/hop") return new Response(null, { status: 302, headers: { location: "https://cdn.example.com/ok.png" } });
      if (url.pathname === "/inside") return new Response(null, { status: 302, headers: { location: "http://192.168.0.10/secret" } });
      if (url.pathname === "/loop") return new Response(null, { status: 302, headers: { location: "https://media.example.com/loop" } });
      return new Response("nope", { status: 404 });
    });
    expect((await send("image", { media: { url: "https://media.example.com/hop" } })).status).toBe(202);
    const inside = await send("image", { media: { url: "https://media.example.com/inside" } });
    expect(inside.json.error.code).toBe("url_not_allowed");
    const loop = await send("image", { media: { url: "https://media.example.com/loop" } });
    expect(loop.json.error.code).toBe("media_unreachable");
    expect(loop.json.error.message).toMatch(/redirects/);
    const missing = await send("image", { media: { url: "https://media.example.com/gone.png" } });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain("404");
  });

  it("says 422 not_on_whatsapp for a number WhatsApp does not know, and remembers it", async () => {
    const { key, fleet } = await setup();
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: "+1 415 555 2671", body: "hi" } });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatchObject({ code: "not_on_whatsapp", details: { field: "to" } });
    await call("/messages/text", { method: "POST", token: key, body: { to: "+14155552671", body: "hi" } });
    expect(fleet.lookups).toHaveLength(1);
  });

  it("answers 501 not_supported for forwarding, labels and calls", async () => {
    const { key } = await setup();
    for (const [method, path] of [["POST", "/messages/forward"], ["GET", "/labels"], ["POST", "/labels/x"], ["POST", "/calls"]] as const) {
      const res = await call(path, { method, token: key, body: method === "POST" ? {} : undefined });
      expect(res.status, path).toBe(501);
      expect(res.json.error.code).toBe("not_supported");
    }
  });
});

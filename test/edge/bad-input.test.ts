/**
 * Bodies no route should have to think about, refused in one place for the
 * whole API (edge/request-body.ts): JSON nested past any sane depth (it
 * overflowed the stack at a Durable Object call: a 500) and bodies in a
 * charset other than UTF-8 (read as UTF-8 all the same). And a voice note
 * in the format WhatsApp itself records them in.
 */
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../edge/request-body.ts";
import { call, connectedFleet, messageOf, newInstance, newProject, noPacing, postRaw, sessionCreds, waitFor } from "./helpers.ts";

const TO = "5511988887777@s.whatsapp.net";

/** `{"a":{"a":...}}` or `[[...]]`, `levels` deep, as text (JSON.stringify itself would recurse). */
const nestedObject = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;
const nestedArray = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

async function project() {
  const { api_key: key } = await newProject();
  return key;
}

describe("JSON nested too deep: 400 json_too_deep, for every JSON body", () => {
  it("a valid creds.json with an extra field 5,000 levels deep is refused at POST /instances/{id}/session, naming the field", async () => {
    const key = await project();
    const { id } = await newInstance(key);
    const creds = JSON.stringify(sessionCreds());
    const raw = `${creds.slice(0, -1)},"extra":${nestedObject(5_000)}}`;
    const res = await call(`/instances/${id}/session`, { method: "POST", token: key, raw });
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    expect(res.json.error).toMatchObject({ code: "json_too_deep", details: { location: "body", field: "extra", max_depth: MAX_JSON_DEPTH } });
  });

  it("deep arrays too, on any route, before validation", async () => {
    const key = await project();
    const array = await call("/messages/text", { method: "POST", token: key, raw: `{"to":"+5511988887777","body":"x","tags":${nestedArray(5_000)}}` });
    expect(array.status).toBe(400);
    expect(array.json.error).toMatchObject({ code: "json_too_deep", details: { field: "tags" } });
    const top = await call("/webhooks", { method: "POST", token: key, raw: nestedArray(100_000) });
    expect(top.status).toBe(400);
    expect(top.json.error).toMatchObject({ code: "json_too_deep", details: { field: null } });
    const contacts = await call("/contacts/import", { method: "POST", token: key, raw: `{"contacts":[${nestedObject(200)}]}` });
    expect(contacts.status).toBe(400);
    expect(contacts.json.error.code).toBe("json_too_deep");
  });

  it("the limit is exactly MAX_JSON_DEPTH, and brackets inside strings do not count", async () => {
    const key = await project();
    const at = (levels: number) => `{"name":"n","extra":${nestedObject(levels - 1)}}`;
    const ok = await call("/pools", { method: "POST", token: key, raw: at(MAX_JSON_DEPTH) });
    expect(ok.json?.error?.code).not.toBe("json_too_deep");
    const over = await call("/pools", { method: "POST", token: key, raw: at(MAX_JSON_DEPTH + 1) });
    expect(over.json.error.code).toBe("json_too_deep");
    const brackets = await call("/pools", { method: "POST", token: key, raw: JSON.stringify({ name: `${"[{".repeat(45)}\\"`, strategy: "round_robin" }) });
    expect(brackets.status).toBe(201);
    expect(brackets.json.name).toBe(`${"[{".repeat(45)}\\"`);
  });
});

describe("charsets: bodies are UTF-8, anything else is 415", () => {
  it("refuses application/json in UTF-16 or Latin-1 instead of reading it as UTF-8", async () => {
    const key = await project();
    for (const charset of ["utf-16", "UTF-16LE", "iso-8859-1", '"windows-1252"']) {
      const res = await call("/webhooks", {
        method: "POST",
        token: key,
        body: { url: "http://hooks.test/x" },
        headers: { "Content-Type": `application/json; charset=${charset}` },
      });
      expect(res.status, charset).toBe(415);
      expect(res.json.error).toMatchObject({ code: "unsupported_media_type", details: { field: "content-type" } });
    }
    expect((await call("/webhooks", { token: key })).json.total).toBe(0);
  });

  it("refuses a CSV import in another charset, with the same rule", async () => {
    const key = await project();
    const res = await postRaw("/contacts/import", key, "phone,name\n+5511999998888,Jo\xe3o\n", "text/csv; charset=iso-8859-1");
    expect(res.status).toBe(415);
    expect(res.json.error).toMatchObject({ code: "unsupported_media_type", details: { field: "content-type", charset: "iso-8859-1" } });
  });

  it("takes UTF-8 however it is spelled, and no charset at all", async () => {
    const key = await project();
    for (const contentType of ["application/json; charset=utf-8", 'application/json;charset="UTF-8"', "application/json; charset=utf8", "application/json"]) {
      const res = await call("/pools", { method: "POST", token: key, body: { name: `Pool ç ${contentType}` }, headers: { "Content-Type": contentType } });
      expect(res.status, contentType).toBe(201);
      expect(res.json.name).toBe(`Pool ç ${contentType}`);
    }
  });
});

/**
 * A real Ogg/Opus voice note of 200 ms (a 440 Hz tone, mono, 48 kHz, 6 kb/s;
 * 317 bytes): encoded with libopus 1.4 (opusscript), three Ogg pages with
 * their CRCs, checked to decode without errors (ogg-opus-decoder).
 */
const VOICE_NOTE =
  "T2dnUwACAAAAAAAAAABCTU9QAAAAADUeaQABE09wdXNIZWFkAQE4AYC7AAAAAABPZ2dTAAAAAAAAAAAAAEJNT1ABAAAAvL25uwEdT3B1c1RhZ3MNAAAAcG9tYm8tZml4dHVyZQAAAABPZ2dTAASAJQAAAAAAAEJNT1ACAAAA6Um2zQoRFhEQExUPDhATCIQngtAc/e3E7Ofzj6SSSnAIreVdipguX29snd2qmM+2UZNnmnzmCKZaUHcyql5SyEDTjd7lxbgIplpQdzKqXEuX+hDOVsccCKZaUHcyql5St3JVgd5mCV9s2wimaYNG1VJ9yeKZ/FyMqaTO8QIVKwimyQRLYnWN24c0a8m1yginwmL7MqEgcrnyg5TmCKfPSvr+4sYYiGMWQHvfWginz0r6/uLJQSwrQIuL+iyNcbA=";

describe("voice notes", () => {
  it("POST /messages/audio takes an Ogg/Opus file and sends it as a voice note, typed the way WhatsApp records them", async () => {
    const key = await project();
    await noPacing(key);
    const { id } = await newInstance(key);
    const fleet = await connectedFleet(id);
    const res = await call("/messages/audio", { method: "POST", token: key, body: { to: TO, media: { base64: VOICE_NOTE, ptt: true } } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    expect(fleet.sends.at(-1)!.content).toMatchObject({ type: "audio", mimetype: "audio/ogg; codecs=opus", ptt: true });
    // The same file declared as plain audio/ogg is still what the bytes say it is.
    const declared = await call("/messages/audio", {
      method: "POST",
      token: key,
      body: { to: TO, media: { base64: VOICE_NOTE, mimetype: "audio/ogg", ptt: true } },
    });
    expect(declared.status).toBe(202);
  });
});

import { BufferJSON, generateWAMessageFromContent, proto } from "@whiskeysockets/baileys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertSendableJid,
  classifySendError,
  presenceFor,
  quotedFor,
  sendResult,
  toBaileysContent,
} from "../../fleet/outbound-content.ts";
import { edgeMediaFetcher } from "../../fleet/outbound-media.ts";
import { OutboundContent, ProtocolError } from "../../shared/protocol.ts";
import { type MediaEdge, startMediaEdge } from "./media-edge.ts";

const CHAT = "5511988887777@s.whatsapp.net";
const SECRET = Buffer.alloc(32, 7);
const noMedia = async (id: string): Promise<Buffer> => {
  throw new Error(`no media expected, asked for ${id}`);
};
const ctx = { chatJid: CHAT, fetchMedia: noMedia, pollSecret: () => SECRET };
const parse = (content: unknown) => OutboundContent.parse(content);
const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not a ProtocolError: ${String(err)}`;
  }
  return "no error";
};

describe("outbound content -> Baileys content", () => {
  it("text is sent as text, without fetching a link preview", async () => {
    expect(await toBaileysContent(parse({ type: "text", text: "Veja https://example.com" }), ctx)).toEqual({
      text: "Veja https://example.com",
      linkPreview: null,
    });
  });

  it("location, contact, reaction and poll become what WhatsApp clients show", async () => {
    expect(await toBaileysContent(parse({ type: "location", latitude: -23.561, longitude: -46.656, name: "Av. Paulista" }), ctx)).toEqual({
      location: { degreesLatitude: -23.561, degreesLongitude: -46.656, name: "Av. Paulista" },
    });
    const vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Suporte\r\nEND:VCARD";
    expect(await toBaileysContent(parse({ type: "contact", display_name: "Suporte", vcard }), ctx)).toEqual({
      contacts: { displayName: "Suporte", contacts: [{ displayName: "Suporte", vcard }] },
    });
    expect(
      await toBaileysContent(parse({ type: "reaction", emoji: "👍", target: { id: "3EB0X", from_me: false, participant: "5511977776666@s.whatsapp.net" } }), {
        ...ctx,
        chatJid: "120363000000000001@g.us",
      }),
    ).toEqual({
      react: { text: "👍", key: { remoteJid: "120363000000000001@g.us", id: "3EB0X", fromMe: false, participant: "5511977776666@s.whatsapp.net" } },
    });
    expect(await toBaileysContent(parse({ type: "poll", name: "Horário?", options: ["Manhã", "Tarde"], selectable_count: 1 }), ctx)).toEqual({
      poll: { name: "Horário?", values: ["Manhã", "Tarde"], selectableCount: 1, messageSecret: SECRET },
    });
  });

  it("refuses, as invalid_content, what WhatsApp would refuse or show broken", async () => {
    const bad = [
      { type: "text", text: "   " },
      { type: "contact", display_name: "Suporte", vcard: "Suporte, +55 11 97777-6666" },
      { type: "contact", display_name: " ", vcard: "BEGIN:VCARD\nFN:x\nEND:VCARD" },
      { type: "location", latitude: 123, longitude: 0 },
      { type: "reaction", emoji: "👍", target: { id: "", from_me: true } },
      { type: "poll", name: "Horário?", options: ["Manhã", "Manhã "], selectable_count: 1 },
      { type: "poll", name: "Horário?", options: ["Manhã", "Tarde"], selectable_count: 3 },
    ];
    for (const content of bad) expect(await codeOf(toBaileysContent(parse(content), ctx)), JSON.stringify(content)).toBe("invalid_content");
    expect(() => assertSendableJid("not-a-jid")).toThrow(ProtocolError);
    expect(() => assertSendableJid("5511988887777@broadcast")).toThrow(ProtocolError);
    for (const jid of [CHAT, "120363000000000001@g.us", "123456789@lid"]) expect(() => assertSendableJid(jid)).not.toThrow();
  });

  it("types before texts and records before voice notes; other messages just arrive", () => {
    expect(presenceFor(parse({ type: "text", text: "oi" }))).toBe("composing");
    expect(presenceFor(parse({ type: "audio", media_id: "m", mimetype: "audio/ogg; codecs=opus", ptt: true }))).toBe("recording");
    expect(presenceFor(parse({ type: "audio", media_id: "m", mimetype: "audio/mpeg" }))).toBeNull();
    expect(presenceFor(parse({ type: "location", latitude: 0, longitude: 0 }))).toBeNull();
  });
});

describe("replies (around the socket: the peer takes no group sends)", () => {
  it("quote a group member's photo by its id and author, with its caption for the preview", () => {
    const GROUP = "120363000000000001@g.us";
    const AUTHOR = "5511977776666@s.whatsapp.net";
    const quoted = quotedFor({ id: "3EB0PHOTO", from_me: false, participant: AUTHOR, type: "image", body: "the broken part" }, GROUP);
    const reply = generateWAMessageFromContent(GROUP, { extendedTextMessage: { text: "We will replace it" } }, {
      userJid: "5511999990001:1@s.whatsapp.net",
      messageId: "3EB0REPLY",
      quoted,
    });
    const context = reply.message?.extendedTextMessage?.contextInfo;
    expect(context?.stanzaId).toBe("3EB0PHOTO");
    expect(context?.participant).toBe(AUTHOR);
    expect(context?.quotedMessage?.imageMessage?.caption).toBe("the broken part");
    // Our own message in a one-to-one chat: its author is this number.
    const own = generateWAMessageFromContent(CHAT, { extendedTextMessage: { text: "as promised" } }, {
      userJid: "5511999990001:1@s.whatsapp.net",
      quoted: quotedFor({ id: "3EB0MINE", from_me: true, participant: null, type: "text", body: "We ship tomorrow" }, CHAT),
    });
    expect(own.message?.extendedTextMessage?.contextInfo).toMatchObject({
      stanzaId: "3EB0MINE",
      participant: "5511999990001@s.whatsapp.net",
      quotedMessage: { conversation: "We ship tomorrow" },
    });
  });
});

describe("mentions (around the socket: the peer takes no group sends)", () => {
  it("mention the JIDs given on texts and captions, and every participant of the group for mention_all", async () => {
    const GROUP = "120363000000000001@g.us";
    const members = ["5511977776666@s.whatsapp.net", "987654321012345@lid"];
    const group = { ...ctx, chatJid: GROUP, groupMembers: async () => members };
    expect(await toBaileysContent(parse({ type: "text", text: "@all meeting", mention_all: true }), group)).toEqual({
      text: "@all meeting",
      linkPreview: null,
      mentions: members,
    });
    const image = await toBaileysContent(
      parse({ type: "image", media_id: "m1", mimetype: "image/png", caption: "@5511977776666 yours", mentions: [members[0]] }),
      { ...ctx, fetchMedia: async () => Buffer.from("png") },
    );
    expect(image).toMatchObject({ caption: "@5511977776666 yours", mentions: [members[0]] });
    expect(await toBaileysContent(parse({ type: "text", text: "no one" }), ctx)).not.toHaveProperty("mentions");
    // Everyone in a one-to-one chat makes no sense: refused before anything is sent.
    expect(await codeOf(toBaileysContent(parse({ type: "text", text: "x", mention_all: true }), { ...ctx, groupMembers: async () => members }))).toBe(
      "invalid_content",
    );
  });
});

describe("send result", () => {
  it("takes the id and WhatsApp timestamp of the sent message; polls add their secret and creation message", () => {
    const poll = generateWAMessageFromContent(
      CHAT,
      { messageContextInfo: { messageSecret: SECRET }, pollCreationMessageV3: { name: "Horário?", options: [{ optionName: "Manhã" }] } },
      { userJid: "5511999990001:1@s.whatsapp.net", messageId: "3EB0POLL" },
    );
    const result = sendResult(poll, "3EB0POLL");
    expect(result.wa_message_id).toBe("3EB0POLL");
    expect(result.timestamp).toBe(Number(poll.messageTimestamp));
    expect(result.message_secret).toBe(SECRET.toString("base64"));
    const back = proto.Message.fromObject(JSON.parse(result.poll_message!, BufferJSON.reviver));
    expect(back.pollCreationMessageV3?.name).toBe("Horário?");
    expect(Buffer.from(back.messageContextInfo!.messageSecret!)).toEqual(SECRET);

    const text = generateWAMessageFromContent(CHAT, { conversation: "oi" }, { userJid: "5511999990001:1@s.whatsapp.net", messageId: "3EB0TXT" });
    expect(sendResult(text, "3EB0TXT")).toMatchObject({ wa_message_id: "3EB0TXT", message_secret: null, poll_message: null });
    // No message back (Baileys returns undefined for some sends): the id we chose, stamped now.
    expect(sendResult(undefined, "3EB0NONE", 1_700_000_000_500)).toEqual({ wa_message_id: "3EB0NONE", timestamp: 1_700_000_000, message_secret: null, poll_message: null });
  });

  it("classifies failures: closed socket -> not_connected, content Baileys refuses -> invalid_content, the rest -> send_failed", () => {
    const boom = (message: string, statusCode: number) => Object.assign(new Error(message), { isBoom: true, output: { statusCode } });
    expect(classifySendError(boom("Connection Closed", 428)).code).toBe("not_connected");
    expect(classifySendError(boom("poll.selectableCount in poll should be >= 0 and <= 2", 400)).code).toBe("invalid_content");
    expect(classifySendError(boom("Timed Out", 408)).code).toBe("send_failed");
    expect(classifySendError(new Error("Media upload failed on all hosts")).code).toBe("send_failed");
    expect(classifySendError(new ProtocolError("media_unavailable", "gone")).code).toBe("media_unavailable");
  });
});

describe("media from the edge", () => {
  let edge: MediaEdge;
  beforeAll(async () => {
    edge = await startMediaEdge();
  });
  afterAll(async () => {
    await edge.close();
  });

  it("fetches the stored bytes with the fleet token", async () => {
    const bytes = Buffer.from("%PDF-1.7 fake but exact bytes");
    edge.files.set("proj_1/med 1", bytes);
    const fetchMedia = edgeMediaFetcher({ edgeUrl: `${edge.url}/`, token: edge.token });
    expect(await fetchMedia("proj_1/med 1")).toEqual(bytes);
    // The id's project and file are the route's two segments.
    expect(edge.requests.at(-1)).toEqual({ path: "/fleet/media/proj_1/med%201", authorization: `Bearer ${edge.token}` });
  });

  it("a file the edge no longer has is media_unavailable; an edge hiccup or a wrong token is retryable", async () => {
    expect(await codeOf(edgeMediaFetcher({ edgeUrl: edge.url, token: edge.token })("proj_1/med_gone"))).toBe("media_unavailable");
    expect(await codeOf(edgeMediaFetcher({ edgeUrl: edge.url, token: "wrong" })("proj_1/med 1"))).toBe("send_failed");
    edge.failWith = 503;
    expect(await codeOf(edgeMediaFetcher({ edgeUrl: edge.url, token: edge.token })("proj_1/med 1"))).toBe("send_failed");
    edge.failWith = null;
    expect(await codeOf(edgeMediaFetcher({ edgeUrl: "http://127.0.0.1:1", token: edge.token })("proj_1/med 1"))).toBe("send_failed");
  });

  it("refuses files larger than WhatsApp takes", async () => {
    edge.files.set("proj_1/med_big", Buffer.alloc(2_000));
    expect(await codeOf(edgeMediaFetcher({ edgeUrl: edge.url, token: edge.token, maxBytes: 1_000 })("proj_1/med_big"))).toBe("invalid_content");
  });
});

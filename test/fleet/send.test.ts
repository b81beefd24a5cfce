/**
 * The send path of the connection manager around a stand-in socket, for what
 * the loopback WhatsApp peer cannot do: take media uploads, group sends,
 * refuse a message (463), or send receipts. Everything it can do is tested
 * for real in send-peer.test.ts.
 */
import { proto } from "@whiskeysockets/baileys";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import { ConnectionManager } from "../../fleet/connection.ts";
import { edgeMediaFetcher } from "../../fleet/outbound-media.ts";
import { WaVersionSource } from "../../fleet/wa-version.ts";
import { type Params, ProtocolError, StatusFont } from "../../shared/protocol.ts";
import { STATUS_FONTS } from "../../fleet/outbound-content.ts";
import { fakeSockets } from "./fake-socket.ts";
import { type MediaEdge, startMediaEdge } from "./media-edge.ts";
import { memoryEdge, pairedSession } from "./memory-edge.ts";
import { testInbound } from "./inbound-harness.ts";

const silent = pino({ level: "silent" });
const cipher = new SessionCipher("send unit session key");
const instanceId = "inst_send_unit";
const CHAT = "5511988887777@s.whatsapp.net";
const GROUP = "120363000000000001@g.us";
const S = proto.WebMessageInfo.Status;

let media: MediaEdge;
beforeAll(async () => {
  media = await startMediaEdge();
});
afterAll(async () => {
  await media.close();
});
const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

/** A manager whose (fake) socket is open, on an edge that serves media. */
async function connected(opts: { open?: boolean } = {}) {
  const edge = memoryEdge(pairedSession(cipher, instanceId, { id: "5511999990001:3@s.whatsapp.net", name: "Pombo" }));
  const { sockets, makeSocket } = fakeSockets();
  const manager = new ConnectionManager({
    instanceId,
    link: edge.link,
    cipher,
    versions: new WaVersionSource([2, 3000, 1], silent),
    logger: silent,
    fireInitQueries: false,
    makeSocket,
    fetchMedia: edgeMediaFetcher({ edgeUrl: media.url, token: media.token }),
    spool: testInbound({ link: edge.link, cipher }).spool,
  });
  edge.serve(manager.methods);
  managers.push(manager);
  manager.leaseGranted({ instance_id: instanceId, ttl_ms: 15_000, config: { name: "unit", proxy_url: null } });
  await vi.waitFor(() => expect(sockets).toHaveLength(1));
  const sock = sockets[0]!;
  if (opts.open !== false) {
    sock.open();
    await vi.waitFor(() => expect(manager.status.state).toBe("connected"));
  }
  let n = 0;
  const send = (params: Partial<Params<"message.send">> & Pick<Params<"message.send">, "content">) =>
    edge.edge.call("message.send", { message_id: `msg_${++n}`, wa_message_id: `3EB0UNIT${n}`, chat_jid: CHAT, ...params });
  return { edge, manager, sock, send };
}

const errorCode = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "no error";
  } catch (err) {
    return err instanceof ProtocolError ? err.code : String(err);
  }
};

describe("message.send (unit, around the socket)", () => {
  it("media (unit, around the socket: the test peer cannot take media uploads): image, video, document, voice note and sticker go out with the bytes from the edge's media route", async () => {
    const { sock, send } = await connected();
    const files = {
      med_img: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
      med_vid: Buffer.from("....ftypmp42 video bytes"),
      med_doc: Buffer.from("%PDF-1.7 invoice"),
      med_ptt: Buffer.from("OggS voice note"),
      med_stk: Buffer.from("RIFF....WEBP sticker"),
    };
    for (const [id, bytes] of Object.entries(files)) media.files.set(`proj_1/${id}`, bytes);

    await send({ wa_message_id: "3EB0IMG", content: { type: "image", media_id: "proj_1/med_img", mimetype: "image/jpeg", caption: "Seu boleto" } });
    await send({ wa_message_id: "3EB0VID", content: { type: "video", media_id: "proj_1/med_vid", mimetype: "video/mp4" } });
    await send({
      wa_message_id: "3EB0DOC",
      content: { type: "document", media_id: "proj_1/med_doc", mimetype: "application/pdf", filename: "fatura-outubro.pdf", caption: "Fatura" },
    });
    await send({ wa_message_id: "3EB0PTT", content: { type: "audio", media_id: "proj_1/med_ptt", mimetype: "audio/ogg; codecs=opus", ptt: true }, typing_ms: 50 });
    await send({ wa_message_id: "3EB0STK", content: { type: "sticker", media_id: "proj_1/med_stk", mimetype: "image/webp" } });

    expect(sock.sent.map((s) => [s.jid, s.options?.messageId])).toEqual([
      [CHAT, "3EB0IMG"],
      [CHAT, "3EB0VID"],
      [CHAT, "3EB0DOC"],
      [CHAT, "3EB0PTT"],
      [CHAT, "3EB0STK"],
    ]);
    const [image, video, document, audio, sticker] = sock.sent.map((s) => s.content);
    expect(image).toEqual({ image: files.med_img, mimetype: "image/jpeg", caption: "Seu boleto" });
    expect(video).toEqual({ video: files.med_vid, mimetype: "video/mp4" });
    expect(document).toEqual({ document: files.med_doc, mimetype: "application/pdf", fileName: "fatura-outubro.pdf", caption: "Fatura" });
    expect(audio).toEqual({ audio: files.med_ptt, mimetype: "audio/ogg; codecs=opus", ptt: true });
    expect(sticker).toEqual({ sticker: files.med_stk, mimetype: "image/webp" });
    // A voice note is "recording audio..." first, not "typing...".
    expect(sock.presences.map((p) => p.type)).toEqual(["recording", "paused"]);
    expect(media.requests.filter((r) => r.authorization === `Bearer ${media.token}`).map((r) => r.path)).toEqual(
      Object.keys(files).map((id) => `/fleet/media/proj_1/${id}`),
    );
  });

  it("a media file the edge no longer has (404) is media_unavailable, and nothing is sent", async () => {
    const { sock, send } = await connected();
    const code = await errorCode(send({ content: { type: "image", media_id: "proj_1/med_deleted", mimetype: "image/png" }, typing_ms: 200 }));
    expect(code).toBe("media_unavailable");
    expect(sock.sent).toEqual([]);
    expect(sock.presences).toEqual([]);
  });

  it("group send (unit, around the socket: the test peer cannot take group sends): goes to the group JID with our id, typing shown in the group", async () => {
    const { sock, send } = await connected();
    const result = await send({ wa_message_id: "3EB0GRP", chat_jid: GROUP, content: { type: "text", text: "Bom dia, grupo!" }, typing_ms: 30 });
    expect(result.wa_message_id).toBe("3EB0GRP");
    expect(sock.sent).toEqual([expect.objectContaining({ jid: GROUP, content: { text: "Bom dia, grupo!", linkPreview: null }, options: { messageId: "3EB0GRP" } })]);
    expect(sock.presences.map((p) => [p.type, p.jid])).toEqual([
      ["composing", GROUP],
      ["paused", GROUP],
    ]);
    expect(sock.presences[1]!.at - sock.presences[0]!.at).toBeGreaterThanOrEqual(25);
    expect(sock.sent[0]!.at).toBeGreaterThanOrEqual(sock.presences[1]!.at);
  });

  it("without an open socket the answer is not_connected (the edge waits and retries), and nothing is sent", async () => {
    const { sock, manager, send } = await connected({ open: false });
    expect(await errorCode(send({ content: { type: "text", text: "oi" } }))).toBe("not_connected");
    expect(await errorCode(manager.layers.queries.resolveContacts(["5511988887777"]))).toBe("not_connected");
    expect(sock.sent).toEqual([]);
  });

  it("a socket that drops during the typing pause or the send is not_connected; content refused is invalid_content; the rest send_failed", async () => {
    const { sock, send } = await connected();
    const typing = send({ content: { type: "text", text: "oi" }, typing_ms: 300 });
    await vi.waitFor(() => expect(sock.presences).toHaveLength(1));
    sock.close(428);
    expect(await errorCode(typing)).toBe("not_connected");
    expect(sock.sent).toEqual([]);

    const again = await connected();
    again.sock.failNextSend = Object.assign(new Error("Connection Closed"), { isBoom: true, output: { statusCode: 428 } });
    expect(await errorCode(again.send({ content: { type: "text", text: "oi" } }))).toBe("not_connected");
    again.sock.failNextSend = Object.assign(new Error("Invalid media type"), { isBoom: true, output: { statusCode: 400 } });
    expect(await errorCode(again.send({ content: { type: "text", text: "oi" } }))).toBe("invalid_content");
    again.sock.failNextSend = new Error("Media upload failed on all hosts");
    expect(await errorCode(again.send({ content: { type: "text", text: "oi" } }))).toBe("send_failed");
    // Refused before anything goes out.
    const bad = await errorCode(again.send({ content: { type: "contact", display_name: "Suporte", vcard: "not a card" } }));
    expect(bad).toBe("invalid_content");
    expect(again.sock.sent).toHaveLength(3);
  });

  it("answers only once WhatsApp acknowledged the message (unit, around the socket: the test peer cannot drop a connection between the write and the ack)", async () => {
    const { sock, send } = await connected();
    sock.ack = "hold";
    let answered = false;
    const pending = send({ content: { type: "text", text: "oi" } }).then(() => (answered = true));
    await vi.waitFor(() => expect(sock.sent).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false); // the frame left, WhatsApp has not said it has it
    sock.ws.emit("CB:ack,class:message", { attrs: { id: "3EB0UNIT1", class: "message" } });
    await pending;
    expect(answered).toBe(true);
  });

  it("a connection lost before the ack is not_connected (the edge resends the same id); a refusal is server_error with its code", async () => {
    const { sock, send } = await connected();
    sock.ack = "hold";
    const lost = send({ content: { type: "text", text: "oi" } });
    await vi.waitFor(() => expect(sock.sent).toHaveLength(1));
    sock.close(428);
    expect(await errorCode(lost)).toBe("not_connected");

    const again = await connected();
    again.sock.ack = "463";
    const refused = again.send({ content: { type: "text", text: "oi" } });
    await expect(refused).rejects.toMatchObject({ code: "server_error", message: "463" });
  });

  it("polls carry a secret derived from their id: a retried poll is the same poll", async () => {
    const { sock, send } = await connected();
    const poll: Params<"message.send">["content"] = { type: "poll", name: "Horário?", options: ["Manhã", "Tarde"], selectable_count: 1 };
    const first = await send({ wa_message_id: "3EB0POLL", content: poll });
    const retry = await send({ wa_message_id: "3EB0POLL", content: poll });
    const other = await send({ wa_message_id: "3EB0POLL2", content: poll });
    expect(first.message_secret).toBe(cipher.messageSecret(instanceId, "3EB0POLL").toString("base64"));
    expect(retry.message_secret).toBe(first.message_secret);
    expect(other.message_secret).not.toBe(first.message_secret);
    expect(sock.sent.map((s) => ("poll" in s.content ? Buffer.from(s.content.poll!.messageSecret!).toString("base64") : null))).toEqual([
      first.message_secret,
      first.message_secret,
      other.message_secret,
    ]);
  });
});

describe("message.status (unit, around the socket)", () => {
  it("ERROR with 463 (unit, around the socket: the test peer cannot refuse a message) -> failed with error_code 463", async () => {
    const { edge, sock } = await connected();
    sock.ev.emit("messages.update", [{ key: { remoteJid: CHAT, id: "3EB0REFUSED", fromMe: true }, update: { status: S.ERROR, messageStubParameters: ["463"] } }]);
    await vi.waitFor(() => expect(edge.messageStatuses).toHaveLength(1));
    expect(edge.messageStatuses[0]).toEqual({ wa_message_id: "3EB0REFUSED", chat_jid: CHAT, status: "failed", error_code: "463" });
  });

  it("delivery, read and played receipts (unit, around the socket: the test peer cannot send receipts) -> message.status, ours only, once per step", async () => {
    const { edge, sock } = await connected();
    const key = { remoteJid: CHAT, id: "3EB0VOICE", fromMe: true };
    sock.ev.emit("messages.update", [{ key, update: { status: S.DELIVERY_ACK } }]);
    sock.ev.emit("messages.update", [{ key: { remoteJid: CHAT, id: "3EB0THEIRS", fromMe: false }, update: { status: S.READ } }]);
    sock.ev.emit("messages.update", [{ key, update: { status: S.READ } }, { key, update: { status: S.PLAYED } }]);
    // A second device of the contact confirms delivery again: nothing new to tell.
    sock.ev.emit("messages.update", [{ key, update: { status: S.DELIVERY_ACK } }]);

    // Groups: one receipt per participant; the edge hears each step once.
    const groupKey = { remoteJid: GROUP, id: "3EB0GROUP", fromMe: true };
    for (const user of ["5511911110001", "5511911110002", "5511911110003"]) {
      sock.ev.emit("message-receipt.update", [{ key: groupKey, receipt: { userJid: `${user}@s.whatsapp.net`, receiptTimestamp: 1_800_000_000 } }]);
    }
    sock.ev.emit("message-receipt.update", [{ key: groupKey, receipt: { userJid: "5511911110002@s.whatsapp.net", readTimestamp: 1_800_000_060 } }]);

    await vi.waitFor(() => expect(edge.messageStatuses).toHaveLength(5));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(edge.messageStatuses.map((s) => [s.wa_message_id, s.chat_jid, s.status])).toEqual([
      ["3EB0VOICE", CHAT, "delivered"],
      ["3EB0VOICE", CHAT, "read"],
      ["3EB0VOICE", CHAT, "played"],
      ["3EB0GROUP", GROUP, "delivered"],
      ["3EB0GROUP", GROUP, "read"],
    ]);
  });
});

describe("message.edit and message.revoke (unit, around the socket)", () => {
  const MESSAGE_EDIT = proto.Message.ProtocolMessage.Type.MESSAGE_EDIT;

  it("a caption edit (unit, around the socket: the test peer cannot take media) goes as the media type's message with only the new caption, under the edit's id, answered once WhatsApp acked it", async () => {
    const { edge, sock } = await connected();
    sock.ack = "hold";
    let answered = false;
    const editing = edge.edge
      .call("message.edit", { chat_jid: CHAT, wa_message_id: "3EB0PHOTO", type: "image", text: "new caption", edit_id: "3EB0EDIT1" })
      .then((result) => ((answered = true), result));
    await vi.waitFor(() => expect(sock.relayed).toHaveLength(1));
    const { jid, message, options } = sock.relayed[0]!;
    expect(jid).toBe(CHAT);
    expect(options).toEqual({ messageId: "3EB0EDIT1", additionalAttributes: { edit: "1" } });
    expect(message.protocolMessage).toMatchObject({
      key: { remoteJid: CHAT, fromMe: true, id: "3EB0PHOTO" },
      type: MESSAGE_EDIT,
      editedMessage: { imageMessage: { caption: "new caption" } },
    });
    // Only the caption: no file to upload again, no text that would blank the caption.
    expect(Object.keys(message.protocolMessage!.editedMessage!)).toEqual(["imageMessage"]);
    expect(Object.keys(message.protocolMessage!.editedMessage!.imageMessage!)).toEqual(["caption"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    sock.ws.emit("CB:ack,class:message", { attrs: { id: "3EB0EDIT1", class: "message" } });
    expect(await editing).toEqual({ edit_id: "3EB0EDIT1" });
    sock.ack = "auto";

    for (const type of ["video", "document"] as const) {
      await edge.edge.call("message.edit", { chat_jid: CHAT, wa_message_id: "3EB0FILE", type, text: "fixed", edit_id: `3EB0${type}` });
      expect(sock.relayed.at(-1)!.message.protocolMessage!.editedMessage).toEqual({ [`${type}Message`]: { caption: "fixed" } });
    }
  });

  it("revokes every part of a message, each under its own id with our key; not_connected without a socket, server_error when WhatsApp refuses", async () => {
    const { edge, sock } = await connected();
    const parts = [
      { wa_message_id: "3EB0PART1", revoke_id: "3EB0REVOKE1" },
      { wa_message_id: "3EB0PART2", revoke_id: "3EB0REVOKE2" },
    ];
    expect(await edge.edge.call("message.revoke", { chat_jid: CHAT, parts })).toEqual({ revoked: 2 });
    expect(sock.sent.map((s) => [s.jid, s.content, s.options?.messageId])).toEqual([
      [CHAT, { delete: { remoteJid: CHAT, fromMe: true, id: "3EB0PART1" } }, "3EB0REVOKE1"],
      [CHAT, { delete: { remoteJid: CHAT, fromMe: true, id: "3EB0PART2" } }, "3EB0REVOKE2"],
    ]);

    sock.ack = "479";
    await expect(edge.edge.call("message.edit", { chat_jid: CHAT, wa_message_id: "3EB0PART1", type: "text", text: "x", edit_id: "3EB0E" })).rejects.toMatchObject({
      code: "server_error",
      message: "479",
    });
    const offline = await connected({ open: false });
    expect(await errorCode(offline.edge.edge.call("message.revoke", { chat_jid: CHAT, parts }))).toBe("not_connected");
    expect(await errorCode(offline.edge.edge.call("message.edit", { chat_jid: CHAT, wa_message_id: "3EB0PART1", type: "text", text: "x", edit_id: "3EB0E" }))).toBe(
      "not_connected",
    );
    expect([...offline.sock.sent, ...offline.sock.relayed]).toEqual([]);
  });
});

describe("contacts.resolve (unit, around the socket)", () => {
  it("sends one usync query for all the numbers", async () => {
    const { edge, sock } = await connected();
    sock.usyncAnswer = {
      list: [{ id: "5511988887777@s.whatsapp.net", contact: { exists: true, query: "+551188887777" } }],
      sideList: [],
    };
    const { results } = await edge.edge.call("contacts.resolve", { phones: ["551188887777", "5511911112222"] });
    expect(results).toEqual([
      { phone: "551188887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      { phone: "5511911112222", exists: false, jid: null },
    ]);
    expect(sock.queries).toHaveLength(1);
    expect(sock.queries[0]!.users.map((u) => u.phone)).toEqual(["+551188887777", "+5511911112222"]);
  });
});

describe("status posts (unit, around the socket: the peer takes no media uploads)", () => {
  it("an image status goes to status@broadcast with its audience as Baileys' statusJidList, and nobody sees typing", async () => {
    const { sock, send } = await connected();
    media.files.set("proj_1/med_story", Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9]));
    await send({
      wa_message_id: "3EB0STORY",
      chat_jid: "status@broadcast",
      content: { type: "image", media_id: "proj_1/med_story", mimetype: "image/jpeg", caption: "Cardápio novo" },
      status: { audience: [CHAT, "123456789012345@lid"], background_color: null, font: null },
      typing_ms: 50,
    });
    expect(sock.sent).toHaveLength(1);
    expect(sock.sent[0]).toMatchObject({
      jid: "status@broadcast",
      content: { image: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9]), mimetype: "image/jpeg", caption: "Cardápio novo" },
      options: { messageId: "3EB0STORY", statusJidList: [CHAT, "123456789012345@lid"] },
    });
    expect(sock.sent[0]!.options).not.toHaveProperty("backgroundColor");
    expect(sock.presences).toEqual([]);
  });

  it("refuses, as invalid_content, a status elsewhere than status@broadcast, an audience with a group, and status@broadcast without an audience", async () => {
    const { sock, send } = await connected();
    const text = { type: "text" as const, text: "Hoje abrimos às 10h" };
    const status = { audience: [CHAT], background_color: null, font: null };
    expect(await errorCode(send({ chat_jid: CHAT, content: text, status }))).toBe("invalid_content");
    expect(await errorCode(send({ chat_jid: "status@broadcast", content: text, status: { ...status, audience: [GROUP] } }))).toBe("invalid_content");
    expect(await errorCode(send({ chat_jid: "status@broadcast", content: text }))).toBe("invalid_content");
    expect(sock.sent).toEqual([]);
  });

  it("a status is deleted for everyone to its audience", async () => {
    const { edge, sock } = await connected();
    const status = { audience: [CHAT], background_color: "#FF0000", font: "system_bold" as const };
    const parts = [{ wa_message_id: "3EB0STORY", revoke_id: "3EB0STORYDEL" }];
    expect(await edge.edge.call("message.revoke", { chat_jid: "status@broadcast", parts, status })).toEqual({ revoked: 1 });
    expect(sock.sent).toEqual([
      expect.objectContaining({
        jid: "status@broadcast",
        content: { delete: { remoteJid: "status@broadcast", fromMe: true, id: "3EB0STORY" } },
        options: { messageId: "3EB0STORYDEL", statusJidList: [CHAT] },
      }),
    ]);
  });

  it("every font the API names is one of WhatsApp's", () => {
    for (const name of StatusFont.options) expect(typeof STATUS_FONTS[name], name).toBe("number");
    expect(STATUS_FONTS.courierprime_bold).toBe(proto.Message.ExtendedTextMessage.FontType.COURIERPRIME_BOLD);
  });
});

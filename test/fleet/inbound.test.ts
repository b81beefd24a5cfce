/**
 * The receive translator: what Baileys hands us in `messages.upsert` ->
 * `InboundMessage`. Contents go through a real protobuf encode/decode first,
 * so they look exactly as Baileys' decoder leaves them (Longs, unset fields).
 */
import { type WAMessage, type WAMessageKey, generateWAMessageContent, proto } from "@whiskeysockets/baileys";
import Long from "long";
import { describe, expect, it } from "vitest";
import { type InboundContext, translateInbound } from "../../fleet/inbound-translate.ts";
import { InboundMessage } from "../../shared/protocol.ts";
import { inboundMessage } from "../shared/inbound-message.ts";

const SELF = { jid: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid" };
const CUSTOMER = "5511988887777@s.whatsapp.net";
const CUSTOMER_LID = "123456789012345@lid";
const GROUP = "120363025246125888@g.us";
const ctx = (over: Partial<InboundContext> = {}): InboundContext => ({
  self: SELF,
  offline: false,
  sentByUs: () => false,
  nowMs: 1_750_000_000_000,
  ...over,
});

/** A message as Baileys emits it: content decoded from the wire, key cleaned of devices. */
function received(content: proto.IMessage | null, key: Partial<WAMessageKey> = {}, extra: Partial<WAMessage> = {}): WAMessage {
  return {
    key: { remoteJid: CUSTOMER, fromMe: false, id: "3A0F00D1", ...key },
    message: content ? proto.Message.decode(proto.Message.encode(proto.Message.fromObject(content)).finish()) : null,
    messageTimestamp: Long.fromNumber(1_750_000_123, true),
    pushName: "Maria",
    ...extra,
  };
}

function translate(msg: WAMessage, over: Partial<InboundContext> = {}) {
  const result = translateInbound(msg, ctx(over));
  if ("skip" in result) throw new Error(`skipped: ${result.skip}`);
  // Whatever the translator makes must be what the edge accepts.
  expect(InboundMessage.parse(result.message)).toEqual(result.message);
  return result;
}

/** Texts, edits and revokes upload nothing. */
const noUpload = () => Promise.reject(new Error("nothing to upload"));

const skipOf = (msg: WAMessage, over: Partial<InboundContext> = {}) => {
  const result = translateInbound(msg, ctx(over));
  return "skip" in result ? result.skip : null;
};

describe("inbound translator: types", () => {
  it("a text: body, chat, sender, push name and WhatsApp's timestamp (a Long)", () => {
    const { message, media, vote } = translate(received({ conversation: "Oi, tudo bem?" }));
    // Every field: the message the edge's tests deliver is the one this makes.
    expect(message).toEqual(inboundMessage(CUSTOMER, { wa_message_id: "3A0F00D1", timestamp: 1_750_000_123, body: "Oi, tudo bem?" }));
    expect(media).toBeNull();
    expect(vote).toBeNull();
  });

  it("a reply: extended text with the quoted message's id; a plain-number timestamp works too", () => {
    const { message } = translate(
      received(
        { extendedTextMessage: { text: "Sim, pode ser amanhã", contextInfo: { stanzaId: "3EB0C0FFEE", participant: SELF.jid } } },
        {},
        { messageTimestamp: 1_750_000_200 },
      ),
    );
    expect(message).toMatchObject({ type: "text", body: "Sim, pode ser amanhã", quoted_id: "3EB0C0FFEE", timestamp: 1_750_000_200 });
  });

  it("mentions: the JIDs in contextInfo (never the text), device parts dropped, on texts and captions; none is an empty list", () => {
    const mentionedJid = ["5511977776666:12@s.whatsapp.net", "987654321012345@lid", "5511977776666@s.whatsapp.net"];
    const text = translate(received({ extendedTextMessage: { text: "@ana @bob veja", contextInfo: { mentionedJid } } })).message;
    expect(text?.mentions).toEqual(["5511977776666@s.whatsapp.net", "987654321012345@lid"]);
    const caption = translate(received({ imageMessage: { caption: "@ana", contextInfo: { mentionedJid: ["987654321012345@lid"] } } })).message;
    expect(caption?.mentions).toEqual(["987654321012345@lid"]);
    expect(translate(received({ conversation: "@5511977776666 just text" })).message?.mentions).toEqual([]);
  });

  it("without a timestamp, the message is stamped when it arrived", () => {
    const { message } = translate(received({ conversation: "x" }, {}, { messageTimestamp: undefined }));
    expect(message.timestamp).toBe(1_750_000_000);
  });

  it("media of every kind: caption as body, what to download, voice notes flagged", () => {
    const image = translate(
      received({
        imageMessage: { url: "https://mmg.whatsapp.net/o1/v/t62/abc", mimetype: "image/png", caption: "Olha isso", fileLength: Long.fromNumber(84_211, true) },
      }),
    );
    expect(image.message).toMatchObject({ type: "image", body: "Olha isso", media: null, media_error: null });
    expect(image.media).toEqual({
      type: "image",
      mime_type: "image/png",
      filename: null,
      ptt: false,
      declared_size: 84_211,
    });

    const voice = translate(received({ audioMessage: { mimetype: "audio/ogg; codecs=opus", ptt: true, fileLength: 3_000 } }));
    expect(voice.message).toMatchObject({ type: "audio", body: null });
    expect(voice.media).toMatchObject({ type: "audio", ptt: true, declared_size: 3_000 });

    const doc = translate(
      received({ documentWithCaptionMessage: { message: { documentMessage: { mimetype: "application/pdf", fileName: "boleto.pdf", caption: "Segue" } } } }),
    );
    expect(doc.message).toMatchObject({ type: "document", body: "Segue" });
    expect(doc.media).toMatchObject({ type: "document", mime_type: "application/pdf", filename: "boleto.pdf" });

    // A missing mimetype gets the type's usual one; a sticker has no caption.
    expect(translate(received({ stickerMessage: {} })).media).toMatchObject({ type: "sticker", mime_type: "image/webp" });
    expect(translate(received({ videoMessage: { caption: "vídeo" } })).media).toMatchObject({ type: "video", mime_type: "video/mp4" });
    // A round video note is a video.
    expect(translate(received({ ptvMessage: { mimetype: "video/mp4" } })).message.type).toBe("video");
  });

  it("wrappers are opened: disappearing and view-once messages arrive as what they carry", () => {
    const ephemeral = translate(received({ ephemeralMessage: { message: { extendedTextMessage: { text: "some em 24h" } } } }));
    expect(ephemeral.message).toMatchObject({ type: "text", body: "some em 24h" });
    const viewOnce = translate(received({ viewOnceMessageV2: { message: { imageMessage: { mimetype: "image/jpeg", caption: "1x" } } } }));
    expect(viewOnce.message).toMatchObject({ type: "image", body: "1x" });
  });

  it("a location: coordinates, name as body, address", () => {
    const { message } = translate(
      received({ locationMessage: { degreesLatitude: -23.561, degreesLongitude: -46.656, name: "Av. Paulista", address: "São Paulo" } }),
    );
    expect(message).toMatchObject({
      type: "location",
      body: "Av. Paulista",
      location: { latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" },
    });
    const live = translate(received({ liveLocationMessage: { degreesLatitude: 1.5, degreesLongitude: 2.5, caption: "Estou aqui" } }));
    expect(live.message).toMatchObject({ type: "location", body: "Estou aqui", location: { latitude: 1.5, longitude: 2.5, address: null } });
  });

  it("a contact card: the name as body, the vCard as sent; several cards become one vCard file", () => {
    const vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Suporte\nEND:VCARD";
    expect(translate(received({ contactMessage: { displayName: "Suporte", vcard } })).message).toMatchObject({
      type: "contact",
      body: "Suporte",
      contact: { display_name: "Suporte", vcard },
    });
    const other = "BEGIN:VCARD\nVERSION:3.0\nFN:Vendas\nEND:VCARD";
    const many = translate(
      received({ contactsArrayMessage: { displayName: "2 contatos", contacts: [{ displayName: "Suporte", vcard }, { displayName: "Vendas", vcard: other }] } }),
    );
    expect(many.message).toMatchObject({ type: "contact", body: "2 contatos", contact: { display_name: "2 contatos", vcard: `${vcard}\n${other}` } });
  });

  it("a reaction: the emoji as body and the reacted message as quoted_id; an empty emoji (taken back) still arrives", () => {
    const key = { remoteJid: CUSTOMER, fromMe: true, id: "3EB0AB" };
    expect(translate(received({ reactionMessage: { key, text: "❤️" } })).message).toMatchObject({ type: "reaction", body: "❤️", quoted_id: "3EB0AB" });
    expect(translate(received({ reactionMessage: { key, text: "" } })).message).toMatchObject({ type: "reaction", body: "", quoted_id: "3EB0AB" });
  });

  it("polls of every version: name, options and how many may be chosen", () => {
    const poll = { name: "Qual horário?", options: [{ optionName: "Manhã" }, { optionName: "Tarde" }], selectableOptionsCount: 1 };
    for (const content of [{ pollCreationMessage: poll }, { pollCreationMessageV2: poll }, { pollCreationMessageV3: poll }] as proto.IMessage[]) {
      expect(translate(received({ ...content, messageContextInfo: { messageSecret: new Uint8Array(32) } })).message).toMatchObject({
        type: "poll",
        body: "Qual horário?",
        poll: { name: "Qual horário?", options: ["Manhã", "Tarde"], selectable_count: 1 },
      });
    }
  });

  it("a poll vote: what to decrypt, the poll as quoted_id, no hashes yet", () => {
    const encPayload = new Uint8Array([1, 2, 3]);
    const encIv = new Uint8Array(12).fill(7);
    const result = translate(
      received({ pollUpdateMessage: { pollCreationMessageKey: { id: "3EB0P011", remoteJid: CUSTOMER, fromMe: true }, vote: { encPayload, encIv } } }),
    );
    expect(result.message).toMatchObject({ type: "poll_vote", quoted_id: "3EB0P011", poll_vote: null });
    expect(result.vote).toEqual({ poll_message_id: "3EB0P011", enc_payload: Buffer.from(encPayload), enc_iv: Buffer.from(encIv) });
  });

  it("anything else with content arrives as unsupported, still with who sent it", () => {
    const { message } = translate(received({ eventMessage: { name: "Aniversário" } }));
    expect(message).toMatchObject({ type: "unsupported", body: null, chat_jid: CUSTOMER, sender_jid: CUSTOMER });
  });
});

describe("inbound translator: who and where", () => {
  it("a LID chat with the phone behind it: both forms, device parts dropped", () => {
    const { message } = translate(received({ conversation: "oi" }, { remoteJid: CUSTOMER_LID, remoteJidAlt: "5511988887777:0@s.whatsapp.net" }));
    expect(message).toMatchObject({ chat_jid: CUSTOMER_LID, chat_jid_alt: CUSTOMER, sender_jid: CUSTOMER_LID, sender_jid_alt: CUSTOMER });
  });

  it("a group: the group is the chat, the participant (and its other form) the sender", () => {
    const { message } = translate(
      received({ conversation: "bom dia, grupo" }, { remoteJid: GROUP, participant: CUSTOMER_LID, participantAlt: CUSTOMER }),
    );
    expect(message).toMatchObject({ chat_jid: GROUP, chat_jid_alt: null, sender_jid: CUSTOMER_LID, sender_jid_alt: CUSTOMER });
  });

  it("a customer's broadcast list lands in their own chat", () => {
    const { message } = translate(received({ conversation: "promo" }, { remoteJid: "1750000000@broadcast", participant: CUSTOMER }));
    expect(message).toMatchObject({ chat_jid: CUSTOMER, sender_jid: CUSTOMER });
  });

  it("written on the phone app: kept, from_me, sent by this number, in the customer's chat (never paired with our own alt JID)", () => {
    const { message } = translate(
      received({ conversation: "Já te respondo" }, { remoteJid: CUSTOMER_LID, remoteJidAlt: "5511999990001@s.whatsapp.net", fromMe: true }),
    );
    expect(message).toMatchObject({
      from_me: true,
      chat_jid: CUSTOMER_LID,
      chat_jid_alt: null,
      sender_jid: "5511999990001@s.whatsapp.net",
      sender_jid_alt: "98765432109876@lid",
    });
  });

  it("delivered while offline (append): offline is set", () => {
    expect(translate(received({ conversation: "de madrugada" }), { offline: true }).message.offline).toBe(true);
  });
});

describe("inbound translator: edits and deletes for everyone", () => {
  /** What the customer's own Baileys (or WhatsApp app) sends to change its message `3A0F00D1`: the key is theirs, fromMe. */
  const theirKey = { remoteJid: SELF.jid, fromMe: true, id: "3A0F00D1" };
  const envelope = { id: "3A0F00E2" };

  it("a customer's edit, as Baileys builds one (MESSAGE_EDIT with the new text in editedMessage): an `edit` of the target, under the envelope's own id", async () => {
    const content = await generateWAMessageContent({ text: "Pedido 42, não 41", edit: theirKey }, { upload: noUpload });
    const { message, media, vote } = translate(received(content, envelope));
    expect(message).toEqual(
      inboundMessage(CUSTOMER, { wa_message_id: "3A0F00E2", timestamp: 1_750_000_123, type: "edit", target_id: "3A0F00D1", body: "Pedido 42, não 41" }),
    );
    expect(media).toBeNull();
    expect(vote).toBeNull();
  });

  it("edits as newer apps wrap them (editedMessage around the protocol message), and a caption's edit", () => {
    const P = proto.Message.ProtocolMessage.Type;
    const wrapped = { editedMessage: { message: { protocolMessage: { type: P.MESSAGE_EDIT, key: theirKey, editedMessage: { extendedTextMessage: { text: "novo" } } } } } };
    expect(translate(received(wrapped, envelope)).message).toMatchObject({ type: "edit", target_id: "3A0F00D1", body: "novo" });
    const caption = { protocolMessage: { type: P.MESSAGE_EDIT, key: theirKey, editedMessage: { imageMessage: { caption: "legenda nova" } } } };
    expect(translate(received(caption, envelope)).message).toMatchObject({ type: "edit", target_id: "3A0F00D1", body: "legenda nova", media: null });
  });

  it("a customer's delete for everyone, as Baileys builds one (REVOKE with the target's key): a `revoke` of the target, no body", async () => {
    const content = await generateWAMessageContent({ delete: theirKey }, { upload: noUpload });
    const { message } = translate(received(content, envelope));
    expect(message).toEqual(
      inboundMessage(CUSTOMER, { wa_message_id: "3A0F00E2", timestamp: 1_750_000_123, type: "revoke", target_id: "3A0F00D1", body: null }),
    );
  });

  it("from the number's own phone app: from_me edits and revokes of our message; our own API's echoed envelope is left out", async () => {
    const ours = { remoteJid: CUSTOMER, fromMe: true, id: "3EB0SENT" };
    const phone = { id: "3EB0PHONEEDIT", fromMe: true };
    const edit = translate(received(await generateWAMessageContent({ text: "corrigido", edit: ours }, { upload: noUpload }), phone)).message;
    expect(edit).toMatchObject({ type: "edit", target_id: "3EB0SENT", body: "corrigido", from_me: true, chat_jid: CUSTOMER, sender_jid: "5511999990001@s.whatsapp.net" });
    const revoke = translate(received(await generateWAMessageContent({ delete: ours }, { upload: noUpload }), { ...phone, id: "3EB0PHONEDEL" })).message;
    expect(revoke).toMatchObject({ type: "revoke", target_id: "3EB0SENT", from_me: true, chat_jid: CUSTOMER });
    const sentByUs = (id: string) => id === "3EB0APIEDIT";
    expect(skipOf(received({ protocolMessage: { type: proto.Message.ProtocolMessage.Type.REVOKE, key: ours } }, { id: "3EB0APIEDIT", fromMe: true }), { sentByUs })).toBe(
      "sent_by_us",
    );
  });

  it("in a group: the participant who edited or deleted, the group as the chat", () => {
    const P = proto.Message.ProtocolMessage.Type;
    const key = { remoteJid: GROUP, fromMe: true, id: "3A0F00D1", participant: CUSTOMER_LID };
    const { message } = translate(
      received({ protocolMessage: { type: P.REVOKE, key } }, { remoteJid: GROUP, participant: CUSTOMER_LID, participantAlt: CUSTOMER, id: "3A0F00E3" }),
    );
    expect(message).toMatchObject({ type: "revoke", target_id: "3A0F00D1", chat_jid: GROUP, sender_jid: CUSTOMER_LID, sender_jid_alt: CUSTOMER });
  });
});

describe("inbound translator: what is skipped", () => {
  it("our own API sends echoed back by Baileys; other own messages are kept", () => {
    const sentByUs = (id: string) => id === "3EB0OURS";
    expect(skipOf(received({ conversation: "x" }, { id: "3EB0OURS", fromMe: true }), { sentByUs, offline: true })).toBe("sent_by_us");
    expect(skipOf(received({ conversation: "x" }, { id: "3EB0PHONE", fromMe: true }), { sentByUs, offline: true })).toBeNull();
    // The same id from the customer is not ours, whatever it looks like.
    expect(skipOf(received({ conversation: "x" }, { id: "3EB0OURS", fromMe: false }), { sentByUs })).toBeNull();
  });

  it("status updates, channels and our own broadcast lists", () => {
    expect(skipOf(received({ conversation: "story" }, { remoteJid: "status@broadcast", participant: CUSTOMER }))).toBe("status");
    expect(skipOf(received({ conversation: "news" }, { remoteJid: "120363000000000000@newsletter" }))).toBe("newsletter");
    expect(skipOf(received({ conversation: "promo" }, { remoteJid: "1750000000@broadcast", participant: SELF.jid, fromMe: true }))).toBe("own_broadcast");
  });

  it("protocol messages: ephemeral settings, history sync notices; a revoke or edit naming no message, an edit with no text", () => {
    const P = proto.Message.ProtocolMessage.Type;
    for (const type of [P.EPHEMERAL_SETTING, P.HISTORY_SYNC_NOTIFICATION]) {
      expect(skipOf(received({ protocolMessage: { type, key: { id: "3EB0OLD" } } }))).toBe("protocol");
    }
    // Inside a disappearing-message wrapper too.
    expect(skipOf(received({ ephemeralMessage: { message: { protocolMessage: { type: P.REVOKE } } } }))).toBe("protocol");
    expect(skipOf(received({ protocolMessage: { type: P.MESSAGE_EDIT, key: {}, editedMessage: { conversation: "x" } } }))).toBe("protocol");
    expect(skipOf(received({ protocolMessage: { type: P.MESSAGE_EDIT, key: { id: "3EB0OLD" } } }))).toBe("protocol");
    expect(skipOf(received({ protocolMessage: { type: P.MESSAGE_EDIT, key: { id: "3EB0OLD" }, editedMessage: { reactionMessage: { text: "👍" } } } }))).toBe(
      "protocol",
    );
  });

  it("key distribution alone is transport; a message without content is a decryption failure or a stub", () => {
    expect(skipOf(received({ senderKeyDistributionMessage: { groupId: GROUP, axolotlSenderKeyDistributionMessage: new Uint8Array([1]) } }))).toBe(
      "housekeeping",
    );
    expect(skipOf(received(null, {}, { messageStubType: proto.WebMessageInfo.StubType.CIPHERTEXT, messageStubParameters: ["No session"] }))).toBe(
      "undecryptable",
    );
    expect(skipOf(received(null, { remoteJid: GROUP, participant: CUSTOMER }, { messageStubType: proto.WebMessageInfo.StubType.GROUP_PARTICIPANT_ADD }))).toBe(
      "stub",
    );
    expect(skipOf(received(null))).toBe("undecryptable");
  });

  it("a key without chat or id, or a group message without a participant", () => {
    expect(skipOf(received({ conversation: "x" }, { remoteJid: undefined }))).toBe("no_key");
    expect(skipOf(received({ conversation: "x" }, { id: undefined }))).toBe("no_key");
    expect(skipOf(received({ conversation: "x" }, { remoteJid: GROUP }))).toBe("no_key");
  });
});

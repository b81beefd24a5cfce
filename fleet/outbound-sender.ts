/**
 * The send path of one instance, on the socket's side: `message.send` on the
 * open socket, done once WhatsApp acknowledged the message (server-acks.ts),
 * edits and deletes for everyone of what it sent (`message.edit`,
 * `message.revoke`, acknowledged the same way), and what WhatsApp says later
 * about the messages we sent (a server's late refusal, receipts) as
 * `message.status`.
 *
 * A message goes out with the id the edge chose, so that a send repeated
 * after a crash is the same message to WhatsApp (recipients keep one message
 * per id). Log lines name ids and types, never texts: they may be OTP codes.
 *
 * One sender lives as long as its connection manager, across sockets: the
 * manager hands it each new socket (`attach`) and takes it back (`detach`).
 */
import type { WAPresence } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { z } from "zod";
import { type MessageStatusEvent, type Methods, ProtocolError, type Result } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { SessionCipher } from "./cipher.ts";
import { withTimeout } from "./deadlines.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import type { InboundReceiver } from "./inbound-receiver.ts";
import {
  assertSendableJid,
  classifySendError,
  editMessage,
  ownKey,
  presenceFor,
  quotedFor,
  sendResult,
  statusOptions,
  toBaileysContent,
} from "./outbound-content.ts";
import type { FetchMedia } from "./outbound-media.ts";
import { ServerAcks } from "./server-acks.ts";
import { StatusSteps, statusFromMessageUpdate, statusFromReceiptUpdate } from "./statuses.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";

/**
 * Longest a send may take once its content is ready (media: the upload to
 * WhatsApp included). The edge waits 60 s for an answer: typing (at most
 * 30 s) + 20 s, or the media download (20 s) + 35 s, both answer before it
 * gives up, so a slow send reads as a failure here rather than a timeout there.
 */
const SEND_TIMEOUT_MS = 20_000;
const MEDIA_SEND_TIMEOUT_MS = 35_000;
const MEDIA_TYPES = new Set(["image", "video", "document", "audio", "sticker"]);

/** `message.send` params as the RPC peer hands them over: parsed, defaults filled in. */
export type SendParams = z.infer<(typeof Methods)["message.send"]["params"]>;
export type EditParams = z.infer<(typeof Methods)["message.edit"]["params"]>;
export type RevokeParams = z.infer<(typeof Methods)["message.revoke"]["params"]>;

export type OutboundSenderOptions = {
  instanceId: string;
  sockets: Sockets;
  link: EdgeLink;
  cipher: SessionCipher;
  /** Where media bytes come from (the edge's media route); without one, a media send is media_unavailable. */
  fetchMedia?: FetchMedia;
  /** Told each id before it goes out: Baileys echoes a send back as a received message. */
  inbound: Pick<InboundReceiver, "rememberSent">;
  logger: Logger;
};

export class OutboundSender {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "message.send": (params) => this.send(params),
    "message.edit": (params) => this.edit(params),
    "message.revoke": (params) => this.revoke(params),
  };
  #opts: OutboundSenderOptions;
  #sockets: Sockets;
  #logger: Logger;
  #fetchMedia: FetchMedia;
  /** WhatsApp's acks on the socket now. */
  #acks: ServerAcks | null = null;
  #statusSteps = new StatusSteps();

  constructor(opts: OutboundSenderOptions) {
    this.#opts = opts;
    this.#sockets = opts.sockets;
    this.#logger = opts.logger;
    this.#fetchMedia =
      opts.fetchMedia ??
      (async (mediaId) => {
        throw new ProtocolError("media_unavailable", `no media source configured for ${mediaId}`);
      });
  }

  /** A new socket: sends wait for its acks from now on. */
  attach(sock: SocketLike): void {
    this.#acks = new ServerAcks(sock.ws);
    // Receipts and server verdicts are facts about messages already sent: reported whatever socket brings them.
    sock.ev.on("messages.update", (updates) => {
      for (const update of updates) this.#reportStatus(statusFromMessageUpdate(update));
    });
    sock.ev.on("message-receipt.update", (updates) => {
      for (const update of updates) this.#reportStatus(statusFromReceiptUpdate(update));
    });
  }

  /** The socket is let go: what it did not see acknowledged may not have arrived. */
  detach(): void {
    this.#acks?.failAll();
    this.#acks = null;
  }

  async send(params: SendParams): Promise<Result<"message.send">> {
    const { message_id, wa_message_id, chat_jid, content, quoted, status, typing_ms: typingMs } = params;
    const log = { message_id, wa_message_id, type: content.type, ...(quoted ? { quoted_id: quoted.id } : {}), ...(status ? { audience: status.audience.length } : {}) };
    try {
      const statusPost = status ? statusOptions(chat_jid, status) : null;
      if (!statusPost) assertSendableJid(chat_jid);
      const sock = this.#sockets.open();
      const payload = await toBaileysContent(content, {
        chatJid: chat_jid,
        fetchMedia: this.#fetchMedia,
        pollSecret: () => this.#opts.cipher.messageSecret(this.#opts.instanceId, wa_message_id),
        groupMembers: async () => (await withTimeout(sock.groupMetadata(chat_jid), SEND_TIMEOUT_MS, "group metadata")).participants.map((p) => p.id),
      });
      // Baileys echoes our own send back as a received message: it must not reach the edge as one.
      this.#opts.inbound.rememberSent(wa_message_id);
      // Nobody watches a status being typed.
      const presence = typingMs > 0 && !statusPost ? presenceFor(content) : null;
      if (presence) await this.#showPresence(sock, presence, chat_jid, typingMs);
      if (!this.#sockets.isOpen(sock)) {
        throw new ProtocolError("not_connected", "the WhatsApp socket went away before the send");
      }
      // A status is encrypted for every device of its audience: as long as a media send.
      const timeoutMs = MEDIA_TYPES.has(content.type) || statusPost ? MEDIA_SEND_TIMEOUT_MS : SEND_TIMEOUT_MS;
      const send = () =>
        this.#acked(wa_message_id, timeoutMs, () =>
          sock.sendMessage(chat_jid, payload, {
            messageId: wa_message_id,
            ...(quoted ? { quoted: quotedFor(quoted, chat_jid) } : {}),
            ...statusPost,
          }),
        );
      // The session writes of the send (its ratchet step) ride on this answer (session-store.ts).
      const store = this.#sockets.store?.(sock);
      const { value: sent, session } = store ? await store.sending(send) : { value: await send(), session: undefined };
      const result = sendResult(sent, wa_message_id);
      this.#logger.info(log, "message sent");
      return session ? { ...result, session } : result;
    } catch (err) {
      throw this.#failed(log, err, "message not sent");
    }
  }

  /**
   * Edits one of our messages: a text, or a caption, under the edit's own
   * id. Answered once WhatsApp acknowledged the edit. Texts are not logged.
   */
  async edit(params: EditParams): Promise<Result<"message.edit">> {
    const { chat_jid, wa_message_id, type, text, edit_id } = params;
    const log = { wa_message_id, edit_id, type };
    try {
      assertSendableJid(chat_jid);
      const message = editMessage(chat_jid, wa_message_id, type, text);
      const sock = this.#sockets.open();
      // Built here rather than by sendMessage({ text, edit }), which can only say a caption as a text.
      await this.#acked(edit_id, SEND_TIMEOUT_MS, () => sock.relayMessage(chat_jid, message, { messageId: edit_id, additionalAttributes: { edit: "1" } }));
      this.#logger.info(log, "message edited");
      return { edit_id };
    } catch (err) {
      throw this.#failed(log, err, "message not edited");
    }
  }

  /** Deletes our message's parts for everyone, one revoke each, in order; answered once WhatsApp acknowledged them all. */
  async revoke(params: RevokeParams): Promise<Result<"message.revoke">> {
    const { chat_jid, parts, status } = params;
    const log = { wa_message_ids: parts.map((p) => p.wa_message_id) };
    try {
      // A status is deleted as it was posted: to its audience.
      const audience = status ? { statusJidList: statusOptions(chat_jid, status).statusJidList } : {};
      if (!status) assertSendableJid(chat_jid);
      const sock = this.#sockets.open();
      for (const { wa_message_id, revoke_id } of parts) {
        // Baileys echoes what sendMessage sends back as a received message: not a revoke made on the phone.
        this.#opts.inbound.rememberSent(revoke_id);
        await this.#acked(revoke_id, SEND_TIMEOUT_MS, () =>
          sock.sendMessage(chat_jid, { delete: ownKey(chat_jid, wa_message_id) }, { messageId: revoke_id, ...audience }),
        );
      }
      this.#logger.info(log, "message revoked");
      return { revoked: parts.length };
    } catch (err) {
      throw this.#failed(log, err, "message not revoked");
    }
  }

  /** Sends through `send` and waits for WhatsApp's ack of `id`: done means WhatsApp has it, not that the frame left. */
  async #acked<T>(id: string, timeoutMs: number, send: () => Promise<T>): Promise<T> {
    const acked = this.#acks!.wait(id, timeoutMs);
    acked.catch(() => {}); // awaited below; a send that throws first must not leave it unhandled
    const sent = await withTimeout(send(), timeoutMs, "send");
    await acked;
    return sent;
  }

  #failed(log: object, err: unknown, what: string): ProtocolError {
    const failure = classifySendError(err);
    this.#logger.warn({ ...log, code: failure.code, err: failure.message }, what);
    return failure;
  }

  /** "typing..." (or "recording audio...") for `ms`, then paused. A presence that fails only costs the effect. */
  async #showPresence(sock: SocketLike, presence: WAPresence, jid: string, ms: number): Promise<void> {
    try {
      await sock.sendPresenceUpdate(presence, jid);
    } catch (err) {
      this.#logger.debug({ err: errorText(err) }, "presence not sent");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.#sockets.current() !== sock) return;
    await sock.sendPresenceUpdate("paused", jid).catch((err: unknown) => {
      this.#logger.debug({ err: errorText(err) }, "presence not sent");
    });
  }

  #reportStatus(event: MessageStatusEvent | null): void {
    if (!event || !this.#statusSteps.advance(event)) return;
    try {
      this.#opts.link.emit("message.status", event);
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, "message status not sent");
    }
  }
}

/**
 * The receive path of one instance, on the socket's side: what a Baileys
 * socket hears goes into the process's inbound spool, and from there to the
 * edge (inbound-drainer.ts).
 *
 *   beforeMessageAck (patched into Baileys) -> spool, before WhatsApp gets the receipt
 *   messages.upsert  -> spool, for what did not pass the hook (INSERT OR IGNORE)
 *   lid-mapping.update, messaging-history.set, contacts.*  -> `lid.mappings`
 *
 * One receiver lives as long as its connection manager, across sockets.
 * Log lines name ids and types, never what a message says.
 */
import type { MessageUpsertType, WAMessage } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { InboundMessage } from "../shared/protocol.ts";
import type { SessionCipher } from "./cipher.ts";
import type { EdgeLink } from "./edge-link.ts";
import { type Self, type SkipReason, translateInbound } from "./inbound-translate.ts";
import type { InboundSpool } from "./inbound-spool.ts";
import { type Candidate, LidCollector, contactCandidates, keyCandidates, mappingBatches, mappingCandidates } from "./lid-mappings.ts";
import { RecentSet } from "./recent-set.ts";
import { cleanedCopy, plainCopy, sealSpooled } from "./spooled-message.ts";
import type { SocketLike } from "./wa-socket.ts";
import { errorText } from "./errors.ts";

export type InboundReceiverOptions = {
  instanceId: string;
  link: EdgeLink;
  spool: InboundSpool;
  cipher: SessionCipher;
  logger: Logger;
};

/** Ids this number sent lately: Baileys echoes each send back as an `append` upsert right after it. */
const REMEMBERED_SENDS = 2_000;
/** Ids spooled lately by the hook: their upsert, a moment later, has nothing to add (saves work only; edge/services/inbound.ts keeps a message once). */
const REMEMBERED_SPOOLED = 2_000;
/** Skips worth an operator's attention; the rest are routine. */
const NOTEWORTHY_SKIPS = new Set<SkipReason>(["undecryptable", "no_key"]);

export class InboundReceiver {
  #opts: InboundReceiverOptions;
  #logger: Logger;
  #sent = new RecentSet(REMEMBERED_SENDS);
  #spooled = new RecentSet(REMEMBERED_SPOOLED);
  #lids = new LidCollector();

  constructor(opts: InboundReceiverOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
  }

  /** Call before sending: the echo of a send can arrive before `sendMessage` returns. */
  rememberSent(waMessageId: string): void {
    this.#sent.add(waMessageId);
  }

  /**
   * Baileys' `beforeMessageAck`: the message is on disk when this resolves,
   * and only then may WhatsApp hear we have it. Waits while the spool is
   * full; throws if it cannot be written (disk full, spool closed), and
   * Baileys then nacks it, so WhatsApp keeps it. `msg` is Baileys' own,
   * not yet cleaned: it is copied, never changed.
   */
  async beforeAck(msg: WAMessage, type: MessageUpsertType, self: Self): Promise<void> {
    const copy = cleanedCopy(msg, self);
    // What is skipped is left to its upsert, which logs why and tells the pairs its key teaches.
    const message = this.#deliverable(copy, type, self);
    if (!message) return;
    await this.#opts.spool.admit();
    this.#write(copy, message, self);
  }

  /** Listens to a new socket. Events keep being handled after it closes: what it heard was real. */
  attach(sock: SocketLike): void {
    sock.ev.on("messages.upsert", ({ messages, type }) => {
      for (const msg of messages) this.#upserted(msg, type, selfOf(sock));
    });
    sock.ev.on("lid-mapping.update", (mapping) => this.#tell(mappingCandidates([mapping])));
    sock.ev.on("messaging-history.set", ({ lidPnMappings, contacts }) =>
      this.#tell([...mappingCandidates(lidPnMappings), ...contactCandidates(contacts ?? [])]),
    );
    sock.ev.on("contacts.upsert", (contacts) => this.#tell(contactCandidates(contacts)));
    sock.ev.on("contacts.update", (contacts) => this.#tell(contactCandidates(contacts)));
  }

  /** A message upserted without passing the hook (a placeholder resend, a socket without the patch) is spooled now. */
  #upserted(msg: WAMessage, type: MessageUpsertType, self: Self): void {
    if (msg.key?.id && this.#spooled.has(msg.key.id)) return;
    let translated: ReturnType<typeof translateInbound>;
    try {
      translated = translateInbound(msg, { self, offline: type === "append", sentByUs: (id) => this.#sent.has(id) });
    } catch (err) {
      this.#logger.error({ wa_message_id: msg.key?.id, err: errorText(err) }, "received message could not be read: skipped");
      return;
    }
    if ("skip" in translated) {
      const level = NOTEWORTHY_SKIPS.has(translated.skip) ? "warn" : "debug";
      this.#logger[level]({ wa_message_id: msg.key?.id, skip: translated.skip }, "received message skipped");
      this.#tell(keyCandidates(translated.key));
      return;
    }
    try {
      this.#write(plainCopy(msg), translated.message, self);
    } catch (err) {
      // Baileys acknowledged this one without asking us first: nothing holds it any more.
      this.#logger.error({ wa_message_id: msg.key.id, err: errorText(err) }, "received message could not be spooled: lost");
    }
  }

  /** The message as the edge will get it, if it is one to deliver (not a status, a protocol message, our own send...). */
  #deliverable(copy: WAMessage, type: MessageUpsertType, self: Self): InboundMessage | null {
    try {
      const translated = translateInbound(copy, { self, offline: type === "append", sentByUs: (id) => this.#sent.has(id) });
      return "skip" in translated ? null : translated.message;
    } catch {
      return null; // its upsert logs it
    }
  }

  /** `message`: the translation of `copy`, for the row's columns; the row keeps `copy` itself. */
  #write(copy: WAMessage, message: InboundMessage, self: Self): void {
    const written = this.#opts.spool.put({
      instance_id: this.#opts.instanceId,
      chat_jid: message.chat_jid,
      wa_message_id: message.wa_message_id,
      offline: message.offline,
      received_at: Date.now(),
      payload: sealSpooled(this.#opts.cipher, this.#opts.instanceId, { message: copy, self }),
    });
    this.#spooled.add(message.wa_message_id);
    if (written) this.#logger.info({ wa_message_id: message.wa_message_id, type: message.type, offline: message.offline, from_me: message.from_me }, "message received");
  }

  /** Tells the edge pairs not told lately, on their own (no message waits for them). */
  #tell(candidates: Candidate[]): void {
    const fresh = this.#lids.take(candidates);
    for (const batch of mappingBatches(fresh)) {
      try {
        this.#opts.link.emit("lid.mappings", { mappings: batch });
      } catch (err) {
        this.#logger.warn({ err: errorText(err), mappings: batch.length }, "lid mappings not sent");
      }
    }
    if (fresh.length > 0) this.#logger.debug({ mappings: fresh.length }, "lid mappings sent");
  }
}

/** Who the number is, as its socket knows it. */
export function selfOf(sock: Pick<SocketLike, "user">): Self {
  return { jid: sock.user?.id ?? null, lid: sock.user?.lid ?? null };
}

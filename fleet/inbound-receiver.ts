/**
 * The receive path of one instance: what a Baileys socket hears -> what the
 * edge is told.
 *
 *   messages.upsert   -> translateInbound -> (media stored / vote decrypted)
 *                     -> relay: `lid.mappings` it taught, then `message.received`
 *   lid-mapping.update, messaging-history.set, contacts.*  -> `lid.mappings`
 *
 * One receiver lives as long as its connection manager, across sockets: a
 * message heard by a socket that has since closed is still delivered.
 * Log lines name ids and types, never what a message says.
 */
import type { WAMessage } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { InboundMessage } from "../shared/protocol.ts";
import type { SessionCipher } from "./cipher.ts";
import type { SocketLike } from "./connection.ts";
import type { EdgeLink } from "./edge-link.ts";
import { type Self, type SkipReason, normalized, translateInbound } from "./inbound.ts";
import { type Delivery, InboundRelay } from "./inbound-relay.ts";
import {
  type Candidate,
  LidCollector,
  contactCandidates,
  keyCandidates,
  mappingBatches,
  mappingCandidates,
  messageCandidates,
} from "./lid-mappings.ts";
import { limiter } from "./limiter.ts";
import { type MediaHosts, baileysDownload, storeInboundMedia } from "./media-upload.ts";
import { pollVoteHashes } from "./poll-votes.ts";
import { RecentSet } from "./recent-set.ts";

export type InboundReceiverOptions = {
  instanceId: string;
  link: EdgeLink;
  cipher: SessionCipher;
  logger: Logger;
  /** Media may come from any host (a test server), not only WhatsApp's. */
  anyMediaHost?: boolean;
  /** Media may come from private addresses (POMBO_ALLOW_PRIVATE_NETWORKS=true). */
  allowPrivateNetworks?: boolean;
  /** Where the presigned PUT goes through; tests may watch it. */
  fetch?: typeof fetch;
  relay?: InboundRelay;
};

/** Files downloaded at once per number: each may hold up to 100 MB in memory. */
const MEDIA_CONCURRENCY = 3;
/** Ids this number sent lately: Baileys echoes each send back as an `append` upsert right after it. */
const REMEMBERED_SENDS = 2_000;
/** Skips worth an operator's attention; the rest are routine. */
const NOTEWORTHY_SKIPS = new Set<SkipReason>(["undecryptable", "no_key"]);

export class InboundReceiver {
  readonly relay: InboundRelay;
  #opts: InboundReceiverOptions;
  #logger: Logger;
  #sent = new RecentSet(REMEMBERED_SENDS);
  #lids = new LidCollector();
  #media = limiter(MEDIA_CONCURRENCY);
  #mediaHosts: MediaHosts;

  constructor(opts: InboundReceiverOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#mediaHosts = { anyHost: opts.anyMediaHost ?? false, allowPrivate: opts.allowPrivateNetworks ?? false };
    this.relay = opts.relay ?? new InboundRelay({ link: opts.link, logger: opts.logger });
  }

  /** Call before sending: the echo of a send can arrive before `sendMessage` returns. */
  rememberSent(waMessageId: string): void {
    this.#sent.add(waMessageId);
  }

  /** Listens to a new socket. Events keep being handled after it closes: what it heard was real. */
  attach(sock: SocketLike): void {
    sock.ev.on("messages.upsert", ({ messages, type }) => {
      for (const msg of messages) this.#receive(sock, msg, type === "append");
    });
    sock.ev.on("lid-mapping.update", (mapping) => this.#tell(mappingCandidates([mapping])));
    sock.ev.on("messaging-history.set", ({ lidPnMappings, contacts }) =>
      this.#tell([...mappingCandidates(lidPnMappings), ...contactCandidates(contacts ?? [])]),
    );
    sock.ev.on("contacts.upsert", (contacts) => this.#tell(contactCandidates(contacts)));
    sock.ev.on("contacts.update", (contacts) => this.#tell(contactCandidates(contacts)));
  }

  /** Waits up to `timeoutMs` for held messages to reach the edge (drain, revoke). */
  drain(timeoutMs: number): Promise<number> {
    return this.relay.drain(timeoutMs);
  }

  #receive(sock: SocketLike, msg: WAMessage, offline: boolean): void {
    const self: Self = { jid: sock.user?.id ?? null, lid: sock.user?.lid ?? null };
    let translated: ReturnType<typeof translateInbound>;
    try {
      translated = translateInbound(msg, { self, offline, sentByUs: (id) => this.#sent.has(id) });
    } catch (err) {
      this.#logger.error({ wa_message_id: msg.key?.id, err: String(err) }, "received message could not be read: skipped");
      return;
    }
    if ("skip" in translated) {
      const level = NOTEWORTHY_SKIPS.has(translated.skip) ? "warn" : "debug";
      this.#logger[level]({ wa_message_id: msg.key?.id, skip: translated.skip }, "received message skipped");
      this.#tell(keyCandidates(translated.key));
      return;
    }
    let { message } = translated;
    const log = { wa_message_id: message.wa_message_id, type: message.type, offline, from_me: message.from_me };
    if (translated.vote) {
      const hashes = pollVoteHashes(translated.vote, {
        secret: this.#opts.cipher.messageSecret(this.#opts.instanceId, translated.vote.poll_message_id),
        creators: [normalized(self.jid), normalized(self.lid)],
        voters: [message.sender_jid, message.sender_jid_alt],
      });
      if (!hashes) {
        // Not a poll sent through Pombo (its secret was never ours) or a vote we cannot place: an
        // empty `selected` would read as a vote taken back, so nothing is better than a false answer.
        this.#logger.warn({ ...log, poll_message_id: translated.vote.poll_message_id }, "poll vote not decryptable: skipped");
        this.#tell(messageCandidates(message));
        return;
      }
      message = { ...message, poll_vote: { poll_message_id: translated.vote.poll_message_id, selected_hashes: hashes } };
    } else if (message.type === "poll_vote") {
      this.#logger.warn(log, "poll vote without its encrypted payload: skipped");
      return;
    }
    this.#logger.info(log, "message received");
    const mappings = this.#lids.take(messageCandidates(message));
    const request = translated.media;
    const prepared: Promise<Delivery> = request
      ? this.#media(() =>
          storeInboundMedia(request, baileysDownload(msg, sock.updateMediaMessage?.bind(sock), this.#logger, this.#mediaHosts), {
            link: this.#opts.link,
            logger: this.#logger,
            fetch: this.#opts.fetch,
          }, log),
        ).then((stored) => ({ message: { ...message, ...stored } as InboundMessage, mappings }))
      : Promise.resolve({ message, mappings });
    this.relay.enqueue(message.chat_jid, message.wa_message_id, prepared);
  }

  /** Tells the edge pairs not told lately, on their own (no message waits for them). */
  #tell(candidates: Candidate[]): void {
    const fresh = this.#lids.take(candidates);
    for (const batch of mappingBatches(fresh)) {
      try {
        this.#opts.link.emit("lid.mappings", { mappings: batch });
      } catch (err) {
        this.#logger.warn({ err: String(err), mappings: batch.length }, "lid mappings not sent");
      }
    }
    if (fresh.length > 0) this.#logger.debug({ mappings: fresh.length }, "lid mappings sent");
  }
}

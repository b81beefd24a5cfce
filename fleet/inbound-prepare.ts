/**
 * A spooled message made ready for the edge: read back (spooled-message.ts),
 * translated (inbound-translate.ts), its poll vote decrypted, its file stored in the
 * edge's bucket, and the LID pairs it teaches gathered to go just before it.
 *
 * Runs when the drainer takes the row, in whichever fleet process holds it
 * by then, so nothing here may need the socket that heard the message: who
 * the number was is in the row, poll secrets derive from the fleet's key,
 * and a file is downloaded straight from WhatsApp (with a re-upload request
 * only if this process still runs the number).
 */
import type { WAMessage } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { InboundMessage, LidMapping } from "../shared/protocol.ts";
import type { SessionCipher } from "./cipher.ts";
import { normalized, translateInbound } from "./inbound-translate.ts";
import type { InboundCourier } from "./inbound-courier.ts";
import type { SpoolRow } from "./inbound-spool.ts";
import { LidCollector, messageCandidates } from "./lid-mappings.ts";
import { limiter } from "./limiter.ts";
import { type MediaHosts, baileysDownload, storeInboundMedia } from "./inbound-media.ts";
import { pollVoteHashes } from "./poll-votes.ts";
import { openSpooled } from "./spooled-message.ts";

/** A message ready to go, with the LID pairs to tell the edge first. */
export type Delivery = { message: InboundMessage; mappings: LidMapping[] };
/** Ready, or nothing to deliver (and why: it is logged, the row goes). */
export type Prepared = { delivery: Delivery } | { skip: string };
/** Resolves for anything the message itself causes; rejects only when the row cannot be read at all. */
export type Prepare = (row: SpoolRow) => Promise<Prepared>;

export type PrepareOptions = {
  cipher: SessionCipher;
  courier: InboundCourier;
  logger: Logger;
  /** Where received files may be fetched from; by default WhatsApp's own hosts, on public addresses. */
  mediaHosts?: MediaHosts;
  /** Where the presigned PUT goes through; tests may watch it. */
  fetch?: typeof fetch;
  /** The running socket's re-upload request, if this process runs the instance (a file WhatsApp no longer serves). */
  reupload?(instanceId: string): ((msg: WAMessage) => Promise<WAMessage>) | undefined;
};

const WHATSAPP_ONLY: MediaHosts = { anyHost: false, allowPrivate: false };

/** Files downloaded at once: each may hold up to 100 MB in memory. */
const MEDIA_CONCURRENCY = 3;

export function inboundPreparer(opts: PrepareOptions): Prepare {
  const media = limiter(MEDIA_CONCURRENCY);
  const collectors = new Map<string, LidCollector>();
  const lidsOf = (instanceId: string) => {
    let collector = collectors.get(instanceId);
    if (!collector) collectors.set(instanceId, (collector = new LidCollector()));
    return collector;
  };

  return async (row) => {
    const { message: msg, self } = openSpooled(opts.cipher, row.instance_id, row.wa_message_id, row.payload);
    const logger = opts.logger.child({ instance_id: row.instance_id });
    // Our own API sends were left out when the row was written: whatever is here is someone's message.
    const translated = translateInbound(msg, { self, offline: row.offline, sentByUs: () => false, nowMs: row.received_at });
    if ("skip" in translated) return { skip: translated.skip };
    let { message } = translated;
    const log = { wa_message_id: message.wa_message_id, type: message.type, offline: row.offline };
    if (translated.vote) {
      const hashes = pollVoteHashes(translated.vote, {
        secret: opts.cipher.messageSecret(row.instance_id, translated.vote.poll_message_id),
        creators: [normalized(self.jid), normalized(self.lid)],
        voters: [message.sender_jid, message.sender_jid_alt],
      });
      // Not a poll sent through Pombo (its secret was never ours) or a vote we cannot place: an
      // empty `selected` would read as a vote taken back, so nothing is better than a false answer.
      if (!hashes) return { skip: "poll vote not decryptable" };
      message = { ...message, poll_vote: { poll_message_id: translated.vote.poll_message_id, selected_hashes: hashes } };
    } else if (message.type === "poll_vote") {
      return { skip: "poll vote without its encrypted payload" };
    }
    const mappings = lidsOf(row.instance_id).take(messageCandidates(message));
    const request = translated.media;
    if (!request) return { delivery: { message, mappings } };
    const stored = await media(() =>
      storeInboundMedia(request, baileysDownload(msg, opts.reupload?.(row.instance_id), logger, opts.mediaHosts ?? WHATSAPP_ONLY), {
        link: opts.courier.tickets(row.instance_id),
        logger,
        fetch: opts.fetch,
      }, log),
    );
    return { delivery: { message: { ...message, ...stored } as InboundMessage, mappings } };
  };
}

/**
 * Poll votes, decrypted.
 *
 * A vote travels encrypted with a key derived from the poll's secret, the
 * poll's id, the creator's JID and the voter's JID (Baileys'
 * `decryptPollVote`). Baileys 7 no longer decrypts votes itself. The secret
 * of a poll this number sent is derived by the fleet (`messageSecret`), so no
 * state is needed; the JIDs are the hard part: the voter's client uses
 * whichever form (phone or LID) it addresses each side by, and GCM tells us
 * whether a guess was right. Polls written on the phone app have a secret we
 * never saw: their votes cannot be read.
 */
import { decryptPollVote } from "@whiskeysockets/baileys";
import type { EncryptedVote } from "./inbound-translate.ts";

export type VoteParties = {
  /** The poll's secret (32 bytes). */
  secret: Uint8Array;
  /** Who may have created the poll, as the voter sees it: this number's phone JID and LID. */
  creators: (string | null)[];
  /** Who voted: the sender and its other form. */
  voters: (string | null)[];
};

/**
 * The SHA-256 hashes (lowercase hex) of the options the vote selects, or
 * null when no pairing of creator and voter authenticates. An empty list is
 * a real answer: the voter took their vote back.
 */
export function pollVoteHashes(vote: EncryptedVote, parties: VoteParties): string[] | null {
  const creators = distinct(parties.creators);
  const voters = distinct(parties.voters);
  for (const creator of creators) {
    for (const voter of voters) {
      let selected: Uint8Array[];
      try {
        selected = decryptPollVote(
          { encPayload: vote.enc_payload, encIv: vote.enc_iv },
          { pollCreatorJid: creator, pollMsgId: vote.poll_message_id, pollEncKey: parties.secret, voterJid: voter },
        ).selectedOptions;
      } catch {
        continue; // wrong pairing: the GCM tag does not authenticate
      }
      // Anything but a SHA-256 cannot name an option; the edge would refuse the whole vote for it.
      return selected.filter((hash) => hash.length === 32).map((hash) => Buffer.from(hash).toString("hex"));
    }
  }
  return null;
}

function distinct(jids: (string | null)[]): string[] {
  return [...new Set(jids.filter((jid): jid is string => Boolean(jid)))];
}

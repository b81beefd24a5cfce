/**
 * A poll vote as the voter's WhatsApp client encrypts it (the mirror of
 * Baileys' `decryptPollVote`), with node's crypto only: the chosen options'
 * SHA-256 hashes, under a key derived from the poll's secret, its id, the
 * creator's JID and the voter's JID. A mistake in how Pombo derives the
 * secret or picks the JIDs shows up as a vote that does not decrypt.
 */
import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { proto } from "@whiskeysockets/baileys";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

export function encryptVote(opts: { secret: Uint8Array; pollId: string; creator: string; voter: string; options: string[] }) {
  const sign = Buffer.concat([Buffer.from(opts.pollId), Buffer.from(opts.creator), Buffer.from(opts.voter), Buffer.from("Poll Vote"), Buffer.from([1])]);
  const key0 = createHmac("sha256", Buffer.alloc(32)).update(opts.secret).digest();
  const key = createHmac("sha256", key0).update(sign).digest();
  const iv = randomBytes(12);
  const aes = createCipheriv("aes-256-gcm", key, iv);
  aes.setAAD(Buffer.from(`${opts.pollId}\0${opts.voter}`));
  const plain = proto.Message.PollVoteMessage.encode({ selectedOptions: opts.options.map(sha256) }).finish();
  const payload = Buffer.concat([aes.update(plain), aes.final(), aes.getAuthTag()]);
  return { poll_message_id: opts.pollId, enc_payload: payload, enc_iv: iv };
}

/**
 * LID <-> phone pairs, collected from everything Baileys tells us, for the
 * edge's per-project map (`lid.mappings`).
 *
 * WhatsApp increasingly addresses people by LID (`<digits>@lid`), which says
 * nothing about their phone number; the edge keeps conversations on the phone
 * JID whenever it can, so every pair we learn is worth telling it. Pairs come
 * from message keys (a LID chat with the phone in `remoteJidAlt`, or the other
 * way round), `lid-mapping.update`, history sync and contact updates. They
 * repeat a lot (every message from the same person carries the same pair), so
 * pairs told recently are not told again.
 */
import type { Contact, LIDMapping, WAMessageKey } from "@whiskeysockets/baileys";
import { isLidUser, isPnUser } from "@whiskeysockets/baileys";
import { type InboundMessage, type LidMapping, MAX_MAPPINGS_PER_EVENT } from "../shared/protocol.ts";
import { normalized } from "./inbound-translate.ts";
import { RecentSet } from "./recent-set.ts";

/** Two JIDs that may be the same person under two names, in either order. */
export type Candidate = readonly [string | null | undefined, string | null | undefined];

/** The pair, if one side is a LID and the other a phone JID (device parts dropped). */
export function pairOf([a, b]: Candidate): LidMapping | null {
  const first = normalized(a);
  const second = normalized(b);
  if (!first || !second) return null;
  if (isLidUser(first) && isPnUser(second)) return { lid: first, pn: second };
  if (isPnUser(first) && isLidUser(second)) return { lid: second, pn: first };
  return null;
}

/**
 * What a translated message says about who is who: its chat and its sender,
 * each with the other form. The sender of our own messages is this number,
 * which is nobody's contact.
 */
export function messageCandidates(message: InboundMessage): Candidate[] {
  const chat = [message.chat_jid, message.chat_jid_alt] as const;
  return message.from_me ? [chat] : [chat, [message.sender_jid, message.sender_jid_alt]];
}

/**
 * What the key of a message we do not deliver says. Our own messages are
 * left out: WhatsApp's alternative JID on those may name us, not the chat.
 */
export function keyCandidates(key: WAMessageKey): Candidate[] {
  if (key.fromMe) return [];
  return [
    [key.remoteJid, key.remoteJidAlt],
    [key.participant, key.participantAlt],
  ];
}

/** Contacts (upserts, updates, history) that carry both forms: `lid` with `phoneNumber`, or with a phone `id`. */
export function contactCandidates(contacts: Partial<Contact>[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const contact of contacts) {
    if (contact.lid) candidates.push([contact.lid, contact.phoneNumber ?? contact.id]);
    if (contact.phoneNumber && contact.id) candidates.push([contact.id, contact.phoneNumber]);
  }
  return candidates;
}

export function mappingCandidates(mappings: LIDMapping[] | undefined): Candidate[] {
  return (mappings ?? []).map((mapping) => [mapping.lid, mapping.pn] as const);
}

export class LidCollector {
  #told: RecentSet;

  constructor(remember = 5_000) {
    this.#told = new RecentSet(remember);
  }

  /**
   * The pairs among `candidates` not told recently, each once, and from now
   * on counted as told: whoever takes them must send them.
   */
  take(candidates: Iterable<Candidate>): LidMapping[] {
    const fresh: LidMapping[] = [];
    for (const candidate of candidates) {
      const pair = pairOf(candidate);
      if (!pair) continue;
      const id = `${pair.lid}\0${pair.pn}`;
      if (this.#told.has(id)) continue;
      this.#told.add(id);
      fresh.push(pair);
    }
    return fresh;
  }
}

/** Splits pairs into events the protocol accepts. */
export function mappingBatches(mappings: LidMapping[]): LidMapping[][] {
  const batches: LidMapping[][] = [];
  for (let i = 0; i < mappings.length; i += MAX_MAPPINGS_PER_EVENT) batches.push(mappings.slice(i, i + MAX_MAPPINGS_PER_EVENT));
  return batches;
}

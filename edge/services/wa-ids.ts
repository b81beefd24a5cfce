/**
 * WhatsApp message ids the edge chooses, in WhatsApp Web's own shape: 3EB0
 * and 20 upper-case hex digits. A send's are random, fixed when it is
 * accepted; an edit's or a revoke's are derived from what it does, so the
 * same action retried (its answer lost) is the same WhatsApp message, which
 * WhatsApp keeps once.
 */

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();

/** A new message's id. */
export const waMessageId = () => `3EB0${hex(crypto.getRandomValues(new Uint8Array(10)))}`;

/** The id of an action named by `seed` (the same seed, the same id). */
export async function derivedWaMessageId(seed: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed));
  return `3EB0${hex(new Uint8Array(digest).slice(0, 10))}`;
}

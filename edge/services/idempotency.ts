/**
 * `Idempotency-Key` on sends, as Stripe does it.
 *
 * The key is stored with the message it created, next to a fingerprint of
 * the request: its route (the message type) and its body as the API
 * validated it (defaults filled in), in canonical JSON. What the client sent
 * is what counts, not what it resolved to (the recipient's JID, the number
 * chosen): a retry matches its original whatever changed in between (a
 * WhatsApp lookup, the sticky number, default_country), and two different
 * requests stay different even when they would reach the same person.
 *
 * - same key, same request, within KEY_TTL_HOURS: the first answer (same id), sent once;
 * - same key, another body or route: 422 `idempotency_key_reused`, nothing sent;
 * - a key older than that, or whose message was never accepted (the 503 that
 *   asks to send again): free for a new request.
 */
import { keyedHashHex, sha256Hex } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { type KeyedSend, findByIdempotencyKey } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { releaseKey } from "./message-status.ts";

/** How long a key holds (Stripe keeps keys 24 hours). */
export const KEY_TTL_HOURS = 24;

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** Object keys sorted at every depth, so `{a,b}` and `{b,a}` are one request (the body is validated JSON: no cycles, no odd types). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
}

/**
 * The request's fingerprint. An OTP request holds its code: it is keyed with
 * POMBO_DATA_KEY (an OTP send needs it anyway), since a plain hash of a
 * short code can be reversed by trying every code.
 */
export async function fingerprintOf(env: Env, type: string, body: object): Promise<string> {
  const text = JSON.stringify(canonical({ route: type, body }));
  return type === "otp" ? `h1:${await keyedHashHex(env.POMBO_DATA_KEY!, "pombo-idempotency", text)}` : `s1:${sha256Hex(text)}`;
}

const reused = () =>
  new ApiError(
    422,
    "idempotency_key_reused",
    `${IDEMPOTENCY_HEADER}: this key was used for a different request in the last ${KEY_TTL_HOURS} hours; use a new key for a new request`,
    { field: IDEMPOTENCY_HEADER },
  );

/**
 * The message an earlier request with this key created, when this request
 * is its retry; null when the key is free (never used, expired, or its
 * message was not accepted). 422 when it was used for another request.
 */
export async function earlierSend(d1: Db, projectId: string, key: string, fingerprint: string): Promise<MessageRow | null> {
  return earlierSendOf(d1, projectId, await findByIdempotencyKey(d1, projectId, key), fingerprint);
}

/** `earlierSend` for a key's message read already (a caller's batch: `keyedSendRead`). */
export async function earlierSendOf<Row extends KeyedSend>(d1: Db, projectId: string, earlier: Row | undefined, fingerprint: string): Promise<Row | null> {
  if (!earlier) return null;
  const expired = Date.parse(earlier.created_at) < Date.now() - KEY_TTL_HOURS * 3_600_000;
  const refused = earlier.status === "failed" && earlier.reason === "enqueue_failed";
  if (expired || refused) {
    await releaseKey(d1, projectId, earlier.id);
    return null;
  }
  // (A message stored before fingerprints has none: it answers as it always did.)
  if (earlier.idempotency_fingerprint !== null && earlier.idempotency_fingerprint !== fingerprint) throw reused();
  return earlier;
}

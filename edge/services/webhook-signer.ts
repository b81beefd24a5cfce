/**
 * Standard Webhooks signatures for deliveries (webhook-delivery.ts): `v1,`
 * and the base64 HMAC-SHA-256 of `<webhook-id>.<webhook-timestamp>.<body>`
 * under the endpoint's secret. Signed natively and synchronously by
 * node:crypto, as crypto.ts hashes: standardwebhooks' `sign` computes its
 * HMAC in JavaScript (15% of a delivery's `post` in the Worker's profile).
 * Receivers verify with that library (test/edge/webhooks.test.ts).
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { unseal } from "../crypto.ts";
import type { Env } from "../env.ts";
import { SECRET_PREFIX, secretContext } from "./webhooks.ts";

/** A delivery's `webhook-signature`, for its id, time and body. */
export type Signer = (id: string, at: Date, payload: string) => string;

/** The signer of a secret as Standard Webhooks writes it (`whsec_<base64>`). */
export function signerOf(secret: string): Signer {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
  return (id, at, payload) => `v1,${createHmac("sha256", key).update(`${id}.${Math.floor(at.getTime() / 1000)}.${payload}`).digest("base64")}`;
}

/**
 * Signers kept across batches, per sealed secret: unsealing derives a key.
 * A rotation seals a new secret into the row, so the endpoint's next
 * delivery finds no signer under it and makes one with the new secret; the
 * old one is never used for it again. At most MAX_SIGNERS, then all dropped.
 */
const signers = new Map<string, Promise<Signer>>();
const MAX_SIGNERS = 1_000;

export function signerFor(env: Env, webhook: { id: string; secret_sealed: string }): Promise<Signer> {
  let signer = signers.get(webhook.secret_sealed);
  if (!signer) {
    if (!env.POMBO_DATA_KEY) return Promise.reject(new Error("POMBO_DATA_KEY is not set"));
    if (signers.size >= MAX_SIGNERS) signers.clear();
    signer = unseal(env.POMBO_DATA_KEY, secretContext(webhook.id), webhook.secret_sealed).then(signerOf);
    signer.catch(() => signers.delete(webhook.secret_sealed));
    signers.set(webhook.secret_sealed, signer);
  }
  return signer;
}

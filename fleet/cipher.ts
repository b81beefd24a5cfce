/**
 * Encryption of session values before they leave the fleet.
 *
 * The edge stores WhatsApp sessions (identity keys, Signal sessions) but must
 * never be able to read them: a leaked edge database must not let anyone
 * impersonate our numbers. So every value is AES-256-GCM encrypted here, with
 * a key only fleet processes know.
 *
 * The additional authenticated data binds a ciphertext to its slot
 * (`instance_id` + storage key): a value copied into another key or another
 * instance fails to decrypt instead of silently becoming someone's creds.
 *
 * Received messages waiting on the fleet's own disk (the inbound spool) are
 * sealed the same way, under a key of their own.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Fixed and public on purpose: HKDF only needs them to separate this use of
// POMBO_SESSION_KEY from any other use of the same secret.
const HKDF_SALT = "pombo/fleet/session";
const HKDF_INFO = "aes-256-gcm v1";
const MESSAGE_SECRET_SALT = "pombo/fleet/message-secret";
const MESSAGE_SECRET_INFO = "hmac-sha256 v1";
const SPOOL_SALT = "pombo/fleet/inbound-spool";
/** First byte of a sealed spool record, so a future format can be told apart. */
const SPOOL_VERSION = 1;

export class CipherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CipherError";
  }
}

export class SessionCipher {
  #key: Buffer;
  #secretKey: Buffer;
  #spoolKey: Buffer;

  constructor(secret: string) {
    if (!secret) throw new CipherError("empty session key");
    this.#key = Buffer.from(hkdfSync("sha256", secret, HKDF_SALT, HKDF_INFO, 32));
    this.#secretKey = Buffer.from(hkdfSync("sha256", secret, MESSAGE_SECRET_SALT, MESSAGE_SECRET_INFO, 32));
    this.#spoolKey = Buffer.from(hkdfSync("sha256", secret, SPOOL_SALT, HKDF_INFO, 32));
  }

  /**
   * A received message as the fleet keeps it on its own disk until the edge
   * stored it (the inbound spool): customers' messages are never there in
   * clear. Bound to the instance and WhatsApp id it is filed under, so a
   * record cannot pass for another message. Returns version | iv | ciphertext | tag.
   */
  sealReceived(instanceId: string, waMessageId: string, plaintext: string): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#spoolKey, iv);
    cipher.setAAD(aad(instanceId, waMessageId));
    return Buffer.concat([Buffer.of(SPOOL_VERSION), iv, cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  }

  /** Throws CipherError if the record was tampered with, filed under another message, or made with another key. */
  openReceived(instanceId: string, waMessageId: string, sealed: Uint8Array): string {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (bytes[0] !== SPOOL_VERSION || bytes.length < 1 + IV_BYTES + TAG_BYTES) {
      throw new CipherError(`unknown spool record format for ${waMessageId}`);
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#spoolKey, bytes.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(aad(instanceId, waMessageId));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new CipherError(`spool record ${waMessageId} does not authenticate (tampered, moved, or another POMBO_SESSION_KEY)`);
    }
  }

  /**
   * The 32-byte secret of one message we send (polls encrypt their votes
   * with it). The same on every fleet process for the same instance and
   * message id, so a send retried after a crash is the very same message;
   * unguessable without POMBO_SESSION_KEY.
   */
  messageSecret(instanceId: string, waMessageId: string): Buffer {
    return createHmac("sha256", this.#secretKey).update(`${instanceId}\0${waMessageId}`, "utf8").digest();
  }

  /** Returns `v1.<iv b64>.<ciphertext+tag b64>`. */
  encrypt(instanceId: string, key: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(aad(instanceId, key));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString("base64")}.${body.toString("base64")}`;
  }

  /** Throws CipherError if the value was tampered with, moved, or made with another key. */
  decrypt(instanceId: string, key: string, value: string): string {
    const [version, ivText, bodyText, ...rest] = value.split(".");
    if (version !== VERSION || ivText === undefined || bodyText === undefined || rest.length) {
      throw new CipherError(`unknown session value format for ${key}`);
    }
    const iv = Buffer.from(ivText, "base64");
    const body = Buffer.from(bodyText, "base64");
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new CipherError(`malformed session value for ${key}`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, iv);
      decipher.setAAD(aad(instanceId, key));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new CipherError(`session value for ${key} does not authenticate (tampered, moved, or another POMBO_SESSION_KEY)`);
    }
  }
}

function aad(instanceId: string, key: string): Buffer {
  return Buffer.from(`${instanceId}\0${key}`, "utf8");
}

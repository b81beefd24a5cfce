/** Ids, API keys and constant-time comparisons, on Web Crypto (a plain digest on node:crypto: see sha256Hex). */
import { createHash } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Random base62 string; rejection sampling keeps every character equally likely. */
export function randomToken(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export const newId = () => crypto.randomUUID();

export const API_KEY_PREFIX = "pb_live_";

/** A new API key: 43 base62 characters (~256 bits) after the prefix. */
export function newApiKey(): string {
  return API_KEY_PREFIX + randomToken(43);
}

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Synchronous (node:crypto, native in workerd under nodejs_compat), so an event id or an API key's hash
 * needs no promise. Not for speed: measured in workerd, a hash costs 5-19 us either way.
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Compares secrets without leaking, through timing, how much of them matched. */
export function safeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}

type DeriveKey = typeof crypto.subtle.deriveKey;

/** A key for one purpose (`salt`), derived from POMBO_DATA_KEY with HKDF. */
async function derivedKey(secret: string, salt: string, algorithm: Parameters<DeriveKey>[2], usages: Parameters<DeriveKey>[4]): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode(salt), info: new TextEncoder().encode("v1") },
    material,
    algorithm,
    false,
    usages,
  );
}

/**
 * Seals a secret that must wait somewhere (an OTP code in a send queue)
 * with AES-256-GCM under a key derived from POMBO_DATA_KEY. `context` is
 * bound in as associated data, so a sealed value cannot be replayed under
 * another message.
 */
const dataKey = (secret: string) => derivedKey(secret, "pombo-data", { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"]);

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export async function seal(secret: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    await dataKey(secret),
    new TextEncoder().encode(plaintext),
  );
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(data))}`;
}

export async function unseal(secret: string, context: string, sealed: string): Promise<string> {
  const [version, iv, data] = sealed.split(".");
  if (version !== "v1" || !iv || !data) throw new Error("not a sealed value");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(iv), additionalData: new TextEncoder().encode(context) },
    await dataKey(secret),
    fromBase64(data),
  );
  return new TextDecoder().decode(plain);
}

/**
 * HMAC-SHA-256 of `text` under a key derived from POMBO_DATA_KEY for
 * `purpose`: a digest of something that holds a short secret (a plain hash
 * of a 6-digit code is as good as the code).
 */
export async function keyedHashHex(secret: string, purpose: string, text: string): Promise<string> {
  const key = await derivedKey(secret, purpose, { name: "HMAC", hash: "SHA-256", length: 256 }, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
}

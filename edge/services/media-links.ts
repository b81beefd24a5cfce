/**
 * Links to received media (reference 002: "Conversation media is PRIVATE").
 *
 * An event carries `/media/{id}?exp=...&sig=...` on the API host: `sig` is an
 * HMAC of the id and expiry under a key derived from POMBO_DATA_KEY, so the
 * link itself is the credential (a webhook consumer can hand it to a browser)
 * and it dies at `exp`. Following it gives a 302 to a fresh presigned R2 URL.
 * Links are signed when an event leaves (each webhook attempt, each SSE
 * frame, each history page), never stored, so a retry a day later still
 * carries a working link.
 */
import type { Env } from "../env.ts";
import type { PomboEvent } from "./events.ts";

const DEFAULT_TTL_S = 86_400;

export function mediaUrlTtl(env: Env): number {
  const ttl = Number(env.MEDIA_URL_TTL ?? DEFAULT_TTL_S);
  return Number.isFinite(ttl) && ttl > 0 ? Math.floor(ttl) : DEFAULT_TTL_S;
}

const keys = new Map<string, Promise<CryptoKey>>();

function linkKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("pombo-media-links"), info: new TextEncoder().encode("v1") },
        material,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    keys.set(secret, key);
  }
  return key;
}

const toBase64Url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

function fromBase64Url(text: string): Uint8Array | null {
  try {
    const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function secretOf(env: Env): string {
  if (!env.POMBO_DATA_KEY) throw new Error("POMBO_DATA_KEY is not set: media links cannot be signed");
  return env.POMBO_DATA_KEY;
}

const signed = (id: string, exp: number) => new TextEncoder().encode(`media:${id}:${exp}`);

/** The public link to a received file, valid for MEDIA_URL_TTL seconds from now. */
export async function mediaLink(env: Env, mediaId: string, now = Date.now()): Promise<string> {
  const exp = Math.floor(now / 1000) + mediaUrlTtl(env);
  const sig = await crypto.subtle.sign("HMAC", await linkKey(secretOf(env)), signed(mediaId, exp));
  const origin = (env.POMBO_PUBLIC_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  return `${origin}/media/${encodeURIComponent(mediaId)}?exp=${exp}&sig=${toBase64Url(sig)}`;
}

export type LinkCheck = "ok" | "invalid" | "expired";

/** Checks a link's signature first (a tampered expiry is invalid, not expired), then its expiry. */
export async function checkMediaLink(env: Env, mediaId: string, exp: string | undefined, sig: string | undefined, now = Date.now()): Promise<LinkCheck> {
  if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return "invalid";
  const bytes = fromBase64Url(sig);
  if (!bytes) return "invalid";
  const valid = await crypto.subtle.verify("HMAC", await linkKey(secretOf(env)), bytes, signed(mediaId, Number(exp)));
  if (!valid) return "invalid";
  return Number(exp) * 1000 < now ? "expired" : "ok";
}

/** The event with its media link (if any) signed afresh: for each delivery attempt and SSE frame. */
export async function withFreshMediaLinks<E extends PomboEvent>(env: Env, event: E): Promise<E> {
  const payload = (event as { payload?: { media?: { id?: unknown } } }).payload;
  const id = payload?.media?.id;
  if (typeof id !== "string") return event;
  return { ...event, payload: { ...payload, media: { ...payload!.media, url: await mediaLink(env, id) } } } as E;
}

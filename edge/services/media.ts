/**
 * Media a client sends: checked (type and size, clear 400/413) and stored in
 * the private bucket *before* the message is accepted, so a URL that
 * disappears later cannot lose an accepted message. The fleet fetches the
 * bytes back from the edge when it sends.
 */
import { fileTypeFromBuffer } from "file-type";
import type { MediaType } from "../../shared/protocol.ts";
import { newId } from "../crypto.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { destinationApiError } from "./destinations.ts";
import { FetchRefused, safeFetch } from "./safe-fetch.ts";

export type { MediaType };

const MB = 1024 * 1024;

/** What WhatsApp takes per type: the accepted MIME types and the size limit. */
export const MEDIA_RULES: Record<MediaType, { maxBytes: number; mimetypes: RegExp }> = {
  image: { maxBytes: 5 * MB, mimetypes: /^image\/(jpeg|png|webp)$/ },
  video: { maxBytes: 16 * MB, mimetypes: /^video\/(mp4|3gpp)$/ },
  audio: { maxBytes: 16 * MB, mimetypes: /^audio\/(ogg|mpeg|mp4|aac|amr|webm)$/ },
  sticker: { maxBytes: 500 * 1024, mimetypes: /^image\/webp$/ },
  document: { maxBytes: 32 * MB, mimetypes: /^[\w.+-]+\/[\w.+-]+$/ },
};

export type MediaInput = { url?: string; base64?: string; mimetype?: string; filename?: string };
export type StoredMedia = { media_id: string; mimetype: string; filename: string | null; size: number };

const fieldError = (status: 400 | 413, code: string, message: string, field: string) =>
  new ApiError(status, code, message, { field });

/** `field`: what errors name (a send's `media`, a profile's `picture`). */
export async function storeMedia(env: Env, projectId: string, type: MediaType, input: MediaInput, field = "media"): Promise<StoredMedia> {
  const rule = MEDIA_RULES[type];
  const { bytes, contentType } = await readInput(env, input, rule.maxBytes, field);
  if (bytes.byteLength === 0) throw fieldError(400, "invalid_media", "the file is empty", field);

  // What the bytes are beats what anyone says they are; a document may be anything.
  const sniffed = (await fileTypeFromBuffer(bytes))?.mime ?? null;
  const declared = (input.mimetype ?? contentType ?? "").split(";")[0]!.trim().toLowerCase() || null;
  const mimetype = type === "document" ? (declared ?? sniffed ?? "application/octet-stream") : normalizeAudio(sniffed ?? declared);
  // The rule is on the type itself; parameters (`codecs=opus`) stay on what WhatsApp is told.
  if (!mimetype || !rule.mimetypes.test(mimetype.split(";")[0]!.trim())) {
    throw fieldError(400, "unsupported_media_type", `${type} must be ${rule.mimetypes.source}, got ${mimetype ?? "unknown"}`, field);
  }

  const mediaId = newId();
  await env.MEDIA.put(mediaKey(projectId, mediaId), bytes, {
    httpMetadata: { contentType: mimetype },
    customMetadata: { project_id: projectId, filename: input.filename ?? "" },
  });
  return { media_id: `${projectId}/${mediaId}`, mimetype, filename: input.filename ?? null, size: bytes.byteLength };
}

/** Outbound media lives under `out/{project}/{id}`; `media_id` is `{project}/{id}`. */
export const mediaKey = (projectId: string, mediaId: string) => `out/${projectId}/${mediaId}`;
export const mediaKeyOf = (mediaId: string) => `out/${mediaId}`;

// file-type names a voice note's Ogg/Opus `audio/ogg; codecs=opus` (what WhatsApp wants for one),
// some tools say `audio/opus`, and m4a may sniff as `audio/x-m4a`: keep audio as audio.
function normalizeAudio(mime: string | null): string | null {
  if (mime === "audio/opus") return "audio/ogg; codecs=opus";
  if (mime === "audio/x-m4a") return "audio/mp4";
  return mime;
}

async function readInput(env: Env, input: MediaInput, maxBytes: number, field: string) {
  if (input.base64 !== undefined) {
    // 4 base64 characters carry 3 bytes: refuse before decoding a huge string.
    if ((input.base64.length * 3) / 4 > maxBytes + 3) {
      throw fieldError(413, "media_too_large", `the file is over the ${maxBytes}-byte limit`, `${field}.base64`);
    }
    const clean = input.base64.replace(/^data:[^,]*,/, "").replace(/\s/g, "");
    let binary: string;
    try {
      binary = atob(clean);
    } catch {
      throw fieldError(400, "invalid_media", `${field}.base64 is not valid base64`, `${field}.base64`);
    }
    return { bytes: Uint8Array.from(binary, (c) => c.charCodeAt(0)), contentType: null };
  }
  try {
    return await safeFetch(env, input.url!, { maxBytes });
  } catch (err) {
    if (!(err instanceof FetchRefused)) throw destinationApiError(err, `${field}.url`, "url_not_allowed");
    if (err.code === "too_large") throw fieldError(413, "media_too_large", err.message, `${field}.url`);
    throw fieldError(400, "media_unreachable", err.message, `${field}.url`);
  }
}

/**
 * Received files in the private bucket (reference 002: "Conversation media
 * is PRIVATE").
 *
 * The fleet downloads a file from WhatsApp and PUTs it straight into R2
 * through a short-lived presigned URL that the edge signs here: the bytes
 * never pass through a Worker, and the fleet never holds bucket credentials.
 * Reading works the same way: a valid media link (media-links.ts) answers
 * with a 302 to a presigned GET. Presigning needs R2's S3 endpoint and keys
 * (POMBO_R2_*); without them uploads are refused and downloads stream
 * through the MEDIA binding, so a local setup without keys still shows files.
 *
 * Owner of `media` (received files' rows).
 */
import { AwsClient } from "aws4fetch";
import type { InboundMedia } from "../../shared/protocol.ts";
import { newId } from "../crypto.ts";
import { db } from "../db/client.ts";
import { deleteMedia, findMedia, insertMedia, mediaArrived } from "../db/media.ts";
import type { MediaRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";

/** Long enough for the fleet to download a large file from WhatsApp and upload it. */
export const UPLOAD_TTL_S = 15 * 60;
/** The redirect is followed at once; a leaked Location header is worth little. */
export const DOWNLOAD_TTL_S = 5 * 60;
/** WhatsApp's largest document. */
const MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;

export class MediaUnavailable extends Error {
  code = "media_unavailable";
}

type S3 = { client: AwsClient; base: string };

function s3(env: Env): S3 | null {
  const { POMBO_R2_S3_ENDPOINT: endpoint, POMBO_R2_ACCESS_KEY_ID: accessKeyId, POMBO_R2_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!endpoint || !accessKeyId || !secretAccessKey) return null;
  const bucket = env.POMBO_R2_BUCKET ?? "pombo-media";
  return {
    client: new AwsClient({ accessKeyId, secretAccessKey, service: "s3", region: "auto" }),
    base: `${endpoint.replace(/\/+$/, "")}/${bucket}`,
  };
}

/** A key segment the S3 path carries as is (ids are UUIDs; project ids too, but never trust that). */
const segment = (s: string) => encodeURIComponent(s);

export const receivedKey = (projectId: string, mediaId: string) => `in/${segment(projectId)}/${segment(mediaId)}`;

async function presign(target: S3, key: string, method: "GET" | "PUT", ttlS: number, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const url = new URL(`${target.base}/${key}`);
  url.searchParams.set("X-Amz-Expires", String(ttlS));
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  // allHeaders: the content type is part of the signature, so the upload cannot claim another one.
  const signed = await target.client.sign(url.toString(), { method, headers, aws: { signQuery: true, allHeaders: true } });
  return signed.url;
}

export type UploadTicket = { media_id: string; url: string; headers: Record<string, string>; expires_at: string };

/** `media.upload_url`: a media row and a presigned PUT for its bytes. */
export async function uploadTicket(
  env: Env,
  scope: { project_id: string; instance_id: string },
  file: { mime_type: string; size: number; filename?: string | null },
): Promise<UploadTicket> {
  const target = s3(env);
  if (!target) throw new MediaUnavailable("received media needs POMBO_R2_S3_ENDPOINT and R2 keys on the edge");
  if (file.size > MAX_UPLOAD_BYTES) throw new MediaUnavailable(`files over ${MAX_UPLOAD_BYTES} bytes are not stored`);
  const id = newId();
  const key = receivedKey(scope.project_id, id);
  await insertMedia(db(env.DB), {
    id,
    project_id: scope.project_id,
    instance_id: scope.instance_id,
    r2_key: key,
    mime_type: file.mime_type,
    filename: file.filename ?? null,
    size: file.size,
  });
  const headers = { "content-type": file.mime_type };
  const url = await presign(target, key, "PUT", UPLOAD_TTL_S, {}, headers);
  return { media_id: id, url, headers, expires_at: new Date(Date.now() + UPLOAD_TTL_S * 1000).toISOString() };
}

/** A file the fleet says it uploaded, as it really is in the bucket; an error when it is not there. */
export async function arrivedMedia(env: Env, projectId: string, media: InboundMedia) {
  const d1 = db(env.DB);
  const row = await findMedia(d1, projectId, media.media_id);
  if (!row) return { error: "media_not_found" } as const;
  const object = await env.MEDIA.head(row.r2_key);
  if (!object) return { error: "media_not_uploaded" } as const;
  const ref = { id: row.id, mime_type: media.mime_type, filename: media.filename ?? row.filename, size: object.size, ptt: media.ptt };
  return { ref, update: mediaArrived(d1, projectId, row.id, { size: ref.size, mime_type: ref.mime_type, filename: ref.filename }) } as const;
}

export const avatarKey = (projectId: string, mediaId: string) => `avatars/${segment(projectId)}/${segment(mediaId)}`;

/**
 * A contact's WhatsApp picture, put in the bucket by the edge itself (the
 * fleet hands over its few kilobytes in the answer to `profile.picture`),
 * with its row, so a signed link (media-links.ts) reaches it like any file.
 */
export async function storeAvatarFile(env: Env, scope: { project_id: string; instance_id: string }, bytes: Uint8Array, mimeType: string): Promise<string> {
  const id = newId();
  const key = avatarKey(scope.project_id, id);
  await env.MEDIA.put(key, bytes, { httpMetadata: { contentType: mimeType } });
  await insertMedia(db(env.DB), { ...scope, id, r2_key: key, mime_type: mimeType, filename: null, size: bytes.byteLength });
  return id;
}

/**
 * A received file its sender took back (deleted for everyone): out of the
 * bucket, then its row, so a signed link to it answers 404 from then on.
 * Nothing to do for a file already gone.
 */
export async function removeReceivedMedia(env: Env, projectId: string, mediaId: string): Promise<void> {
  const d1 = db(env.DB);
  const row = await findMedia(d1, projectId, mediaId);
  if (!row) return;
  await env.MEDIA.delete(row.r2_key);
  await deleteMedia(d1, projectId, row.id);
}

const disposition = (filename: string | null) =>
  filename ? `inline; filename*=UTF-8''${encodeURIComponent(filename)}` : "inline";

/**
 * How to hand a file to whoever holds a valid link: a presigned GET to
 * redirect to, or (no S3 keys) the object itself.
 */
export async function download(env: Env, row: MediaRow): Promise<Response | null> {
  const target = s3(env);
  if (target) {
    const url = await presign(target, row.r2_key, "GET", DOWNLOAD_TTL_S, {
      "response-content-type": row.mime_type,
      "response-content-disposition": disposition(row.filename),
    });
    return new Response(null, { status: 302, headers: { Location: url, "Cache-Control": "no-store" } });
  }
  const object = await env.MEDIA.get(row.r2_key);
  if (!object) return null;
  return new Response(object.body, {
    headers: {
      "Content-Type": row.mime_type,
      "Content-Length": String(object.size),
      "Content-Disposition": disposition(row.filename),
      "Cache-Control": "private, no-store",
    },
  });
}

/**
 * How long files clients send stay in R2. A file is stored when its message
 * is accepted and the fleet fetches it when it sends; once the message is
 * sent or has failed, nobody needs it: it is deleted
 * OUTBOUND_MEDIA_RETENTION_DAYS later by the cron trigger (wrangler.toml
 * `[triggers]`; under `wrangler dev` crons fire only through
 * `/cdn-cgi/local/scheduled`). The message keeps its media's description
 * (type, size, name), not the bytes.
 *
 * Received files (`in/...`, the media table) are not covered: they are kept,
 * reached through signed links, for as long as the bucket keeps them.
 *
 * Owner of `outbound_media_expiry`.
 */
import { db } from "../db/client.ts";
import { type MediaExpiry, dueMedia, forgetMedia, scheduleMediaExpiry } from "../db/media-expiry.ts";
import type { Env } from "../env.ts";
import type { OutboundContent } from "../../shared/protocol.ts";
import { mediaKeyOf } from "./media.ts";

export const OUTBOUND_MEDIA_RETENTION_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;
/** R2 deletes up to 1,000 keys per call. */
const PURGE_BATCH = 1_000;
/** A run stops after this many batches; the next run goes on. */
const MAX_BATCHES_PER_RUN = 20;

/** The R2 keys of a message's files, from the contents it sends. */
export const mediaKeysOf = (contents: (OutboundContent | undefined)[]) =>
  contents.flatMap((c) => (c && "media_id" in c ? [mediaKeyOf(c.media_id)] : []));

/** The rows that schedule a message's files for deletion, counted from `finalAt` (ms). */
export function expiryRows(projectId: string, messageId: string, keys: string[], finalAt: number): MediaExpiry[] {
  const deleteAfter = new Date(finalAt + OUTBOUND_MEDIA_RETENTION_DAYS * DAY_MS).toISOString();
  return keys.map((r2_key) => ({ r2_key, project_id: projectId, message_id: messageId, delete_after: deleteAfter }));
}

export async function scheduleExpiry(env: Env, rows: MediaExpiry[]): Promise<void> {
  if (rows.length > 0) await scheduleMediaExpiry(db(env.DB), rows);
}

/** Deletes every file whose time has come; returns how many. */
export async function purgeOutboundMedia(env: Env, now = Date.now()): Promise<number> {
  const d1 = db(env.DB);
  let purged = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const keys = (await dueMedia(d1, new Date(now).toISOString(), PURGE_BATCH)).map((r) => r.r2_key);
    if (keys.length === 0) break;
    await env.MEDIA.delete(keys);
    await forgetMedia(d1, keys);
    purged += keys.length;
    if (keys.length < PURGE_BATCH) break;
  }
  return purged;
}

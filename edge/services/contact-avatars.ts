/**
 * Contacts' avatars (reference 001: "name and avatar_url: display name and
 * photo, best effort"): the person's WhatsApp picture, kept in the private
 * bucket because WhatsApp's own picture links expire, and shown as a signed
 * link like received media (media-links.ts).
 *
 * When: a contact is due when a number hears from them (inbound.ts) or
 * has sent them a message (objects/sender.ts) and the picture was never
 * asked for, or was asked for more than AVATAR_STALE_MS ago. The number's object queues the person (objects/avatars.ts) and asks
 * its fleet in the background, so a received message waits for none of it.
 * A person whose privacy hides their photo from the number keeps `null`.
 *
 * Owner of the contacts' avatar columns (`avatar_media_id`,
 * `avatar_checked_at`).
 */
import type { Result } from "../../shared/protocol.ts";
import { setContactAvatar } from "../db/contact-writes.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { mediaLink } from "./media-links.ts";
import { removeReceivedMedia, storeAvatarFile } from "./media-store.ts";

/**
 * How long a stored picture (or its absence) is trusted. People change
 * photos rarely; a week keeps a CRM's faces current while costing each
 * active contact one small query a week.
 */
export const AVATAR_STALE_MS = 7 * 24 * 3_600_000;

/**
 * One number asks WhatsApp for at most one picture per gap, and a contact's
 * first ask waits that long after they are queued: WhatsApp rate-limits
 * picture queries (`rate-overlimit`) and a burst of them is a bot's pattern,
 * while nobody needs a new contact's face within seconds. 3 s spreads a
 * campaign's 50 replies on a number over a few minutes (20 a minute), keeps
 * the fetches out of the first-contact wave's busiest seconds, and still
 * shows a face before most people read their second message.
 */
export const AVATAR_GAP_MS = 3_000;

/** A contact whose picture should be asked for now: never asked, or asked too long ago. */
export function avatarDue(contact: Pick<ContactRow, "avatar_checked_at">, now = Date.now()): boolean {
  const checked = contact.avatar_checked_at ? Date.parse(contact.avatar_checked_at) : Number.NaN;
  return !(now - checked < AVATAR_STALE_MS);
}

/** The JID a number asks WhatsApp about for this contact: the phone JID, else the LID. */
export const avatarJid = (contact: Pick<ContactRow, "jid" | "lid">) => contact.jid ?? contact.lid;

/**
 * What a number fetched for a contact: the new picture replaces the old one
 * (whose file and links die with it), and no picture clears it.
 */
export async function saveAvatar(env: Env, scope: { project_id: string; instance_id: string }, contactId: string, picture: Result<"profile.picture">): Promise<void> {
  const bytes = picture.base64 ? Uint8Array.from(atob(picture.base64), (c) => c.charCodeAt(0)) : null;
  const mediaId = bytes && bytes.byteLength > 0 ? await storeAvatarFile(env, scope, bytes, picture.mime_type ?? "image/jpeg") : null;
  // The old picture read and the new one written in one round trip (every new customer's picture is asked for).
  const before = await setContactAvatar(env.DB, scope.project_id, contactId, { avatar_media_id: mediaId, avatar_checked_at: new Date().toISOString() });
  // The contact was deleted meanwhile: nothing links to the file.
  if (!before) {
    if (mediaId) await removeReceivedMedia(env, scope.project_id, mediaId);
    return;
  }
  if (before.avatar_media_id !== mediaId) await forgetAvatar(env, scope.project_id, before);
}

/** The stored picture's file and row, for a contact that no longer shows it (replaced, or the contact deleted). */
export async function forgetAvatar(env: Env, projectId: string, contact: Pick<ContactRow, "avatar_media_id">): Promise<void> {
  if (contact.avatar_media_id) await removeReceivedMedia(env, projectId, contact.avatar_media_id);
}

/** The API's `avatar_url`: a signed link to the stored picture, valid MEDIA_URL_TTL seconds; null without one. */
export async function avatarUrl(env: Env, contact: Pick<ContactRow, "avatar_media_id">): Promise<string | null> {
  if (!contact.avatar_media_id || !env.POMBO_DATA_KEY) return null;
  return mediaLink(env, contact.avatar_media_id);
}

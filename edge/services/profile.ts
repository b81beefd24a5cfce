/**
 * WhatsApp profiles through a number's fleet connection, live (nothing here
 * is stored): the number's own (`GET/PATCH /instances/{id}/profile`) and a
 * contact's as that number may see it (`GET /contacts/{id}/profile`).
 *
 * A new picture is checked like a send's image (type sniffed from the
 * bytes, size limit, a URL fetched only from public addresses) and kept in
 * the private bucket just long enough for the fleet to fetch it.
 */
import type { WhatsAppProfile } from "../../shared/protocol.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { contactOrThrow } from "./contact-store.ts";
import { type CommandFailures, command, getInstance } from "./instances.ts";
import { type MediaInput, mediaKeyOf, storeMedia } from "./media.ts";
import { addresseeOf, resolveRecipient } from "./recipients.ts";
import { numberOf } from "./whatsapp-block.ts";
import { projectInstance } from "./whatsapp-groups.ts";

export type OwnProfile = { instance_id: string; jid: string; name: string | null; about: string | null; picture_url: string | null };
export type ContactProfile = { contact_id: string; instance_id: string; jid: string; about: string | null; about_set_at: string | null; picture_url: string | null };

export type ProfileChange = { name?: string; about?: string; picture?: MediaInput | null };

const failures: CommandFailures = {
  invalid_picture: (message) => new ApiError(400, "unsupported_media_type", `picture: WhatsApp cannot use this image (${message})`, { field: "picture" }),
  media_unavailable: (message) => new ApiError(502, "fleet_error", `the picture could not reach the fleet: ${message}`, { field: "picture" }),
  invalid_jid: (message) => new ApiError(422, "not_on_whatsapp", message, { field: "id" }),
};

export async function getOwnProfile(env: Env, projectId: string, instanceId: string): Promise<OwnProfile> {
  await getInstance(env, projectId, instanceId);
  const { profile } = await command(env, instanceId, "profile.get", {}, 0, failures);
  return ownView(instanceId, profile);
}

export async function setOwnProfile(env: Env, projectId: string, instanceId: string, change: ProfileChange): Promise<OwnProfile> {
  await getInstance(env, projectId, instanceId);
  const { name, about, picture } = change;
  if (name === undefined && about === undefined && picture === undefined) {
    throw new ApiError(400, "invalid_request", "give at least one of name, about, picture", { field: "body" });
  }
  // Checked and stored before WhatsApp is asked anything, so a bad file changes nothing.
  const stored = picture ? await storeMedia(env, projectId, "image", picture, "picture") : null;
  try {
    const params = { name, about, ...(picture === undefined ? {} : { picture: stored ? { media_id: stored.media_id } : null }) };
    const { profile } = await command(env, instanceId, "profile.set", params, 0, failures);
    return ownView(instanceId, profile);
  } finally {
    // WhatsApp keeps its own copy; ours was only for the fleet to fetch.
    if (stored) await env.MEDIA.delete(mediaKeyOf(stored.media_id));
  }
}

/** A contact's about and picture, asked live through `instanceId` or the number that talks to them. */
export async function getContactProfile(env: Env, projectId: string, contactId: string, instanceId?: string): Promise<ContactProfile> {
  const contact = await contactOrThrow(env, projectId, contactId);
  // A contact only ever written to the CRM is looked up as a send would (cache, else one query).
  const jid = contact.jid ?? contact.lid ?? (await resolveRecipient(env, projectId, addresseeOf(contact.phone ?? "", null, "id"), "id")).chat_jid;
  const number = instanceId ? (await projectInstance(env, projectId, instanceId)).id : await numberOf(env, projectId, { jid, contact });
  const { profile } = await command(env, number, "profile.contact", { jid }, 0, failures);
  return { contact_id: contact.id, instance_id: number, jid: profile.jid, about: profile.about, about_set_at: profile.about_set_at, picture_url: profile.picture_url };
}

const ownView = (instanceId: string, p: WhatsAppProfile): OwnProfile => ({ instance_id: instanceId, jid: p.jid, name: p.name, about: p.about, picture_url: p.picture_url });

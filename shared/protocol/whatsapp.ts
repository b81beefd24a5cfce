/** What the edge asks of WhatsApp itself through a number: its groups, its block list and profiles. */
import { z } from "zod";

/** One member of a WhatsApp group: `jid` is the phone JID when known, else the LID. */
export const GroupParticipant = z.object({
  jid: z.string(),
  /** `+<digits>`, when WhatsApp told us the phone. */
  phone: z.string().nullable(),
  lid: z.string().nullable(),
  admin: z.enum(["admin", "superadmin"]).nullable(),
});
export type GroupParticipant = z.infer<typeof GroupParticipant>;

/** A WhatsApp group (a chat room), as one of our numbers sees it. Not a CRM contact group. */
export const WhatsAppGroup = z.object({
  jid: z.string(),
  subject: z.string(),
  description: z.string().nullable(),
  /** Who created it (phone JID when known, else LID); null when WhatsApp does not say. */
  owner: z.string().nullable(),
  /** ISO 8601; null when WhatsApp does not say. */
  created_at: z.string().nullable(),
  size: z.number().int().min(0),
  participants: z.array(GroupParticipant),
  /** Only admins may send. */
  announce: z.boolean(),
  /** Only admins may edit the group's info. */
  restrict: z.boolean(),
});
export type WhatsAppGroup = z.infer<typeof WhatsAppGroup>;

/** A change to a number's own WhatsApp block list (`contacts.block`). */
export const BlockAction = z.enum(["block", "unblock"]);
export type BlockAction = z.infer<typeof BlockAction>;

/** A group JID as WhatsApp writes them: `120363...@g.us`, or the older `<creator>-<time>@g.us`. */
export const GROUP_JID = /^\d{5,20}(-\d{5,20})?@g\.us$/;

/** A contact's presence as WhatsApp reports it (`composing` is typing); a number shows the last three in a chat. */
export const PresenceState = z.enum(["available", "unavailable", "composing", "recording", "paused"]);
export type PresenceState = z.infer<typeof PresenceState>;

/** What a number may show in a chat (`presence.send`): typing, recording audio, or neither any more. */
export const ChatState = PresenceState.extract(["composing", "recording", "paused"]);
export type ChatState = z.infer<typeof ChatState>;

/**
 * One received message a read receipt names, as WhatsApp keys it: the chat,
 * the message's id, and in a group who wrote it (`participant`).
 */
export const ReadReceiptKey = z.object({
  chat_jid: z.string().min(1),
  wa_message_id: z.string().min(1),
  participant: z.string().min(1).nullable().default(null),
});
export type ReadReceiptKey = z.infer<typeof ReadReceiptKey>;

/** Most receipts in one `messages.read` (one receipt node per chat and participant). */
export const MAX_RECEIPTS_PER_CALL = 200;

/** Most chats one `presence.subscribe` names (a number's subscriptions after a reconnect, in one call). */
export const MAX_PRESENCE_SUBSCRIPTIONS = 256;

/**
 * What a number heard of someone's presence (Baileys' `presence.update`),
 * one event per person: `jid` who (as WhatsApp named them: a phone JID or a
 * LID), `chat_jid` where (the same, or a group), `last_seen` Unix seconds
 * when WhatsApp says.
 */
export const PresenceUpdate = z.object({
  jid: z.string().min(1),
  chat_jid: z.string().min(1),
  state: PresenceState,
  last_seen: z.number().int().nullable(),
});
export type PresenceUpdate = z.infer<typeof PresenceUpdate>;

/** What `groups.participants` does to each person named. */
export const ParticipantAction = z.enum(["add", "remove", "promote", "demote"]);
export type ParticipantAction = z.infer<typeof ParticipantAction>;

/**
 * WhatsApp's answer for one person of a `groups.participants` change, as a
 * stable code: `ok`, or why WhatsApp refused (`status` keeps its own number).
 */
export const ParticipantOutcome = z.enum([
  "ok",
  /** 403: their privacy settings let only contacts add them (an invite link reaches them). */
  "privacy_restricted",
  /** 409: already in the group (add) */
  "already_member",
  /** 408: they left the group lately and cannot be added back yet. */
  "recently_left",
  /** 404: not on WhatsApp, or not in the group (remove, promote, demote). */
  "not_found",
  /** 406/500 and anything else WhatsApp answered. */
  "refused",
]);
export type ParticipantOutcome = z.infer<typeof ParticipantOutcome>;

export const ParticipantResult = z.object({
  jid: z.string(),
  outcome: ParticipantOutcome,
  /** WhatsApp's own status for this person (200 when done). */
  status: z.number().int(),
});
export type ParticipantResult = z.infer<typeof ParticipantResult>;

/** Most people one `groups.participants` or `groups.create` names (WhatsApp's groups hold 1024). */
export const MAX_GROUP_PARTICIPANTS = 256;

/** A change to a group's info or settings (`groups.update`); absent fields stay as they are. */
export const GroupChanges = z.object({
  subject: z.string().min(1).max(100).optional(),
  /** null clears it. */
  description: z.string().max(2048).nullable().optional(),
  /** Only admins may send. */
  announce: z.boolean().optional(),
  /** Only admins may edit the group's info. */
  restrict: z.boolean().optional(),
});
export type GroupChanges = z.infer<typeof GroupChanges>;

/**
 * A change to a group a number is in, as it heard it (Baileys'
 * `groups.update`): only the fields that changed; `by` who changed it,
 * when WhatsApp says (phone JID when known, else LID).
 */
export const GroupUpdated = GroupChanges.extend({ jid: z.string(), by: z.string().nullable() });
export type GroupUpdated = z.infer<typeof GroupUpdated>;

/** People added to, removed from, promoted or demoted in a group a number is in (Baileys' `group-participants.update`). */
export const GroupParticipantsChanged = z.object({
  jid: z.string(),
  action: z.enum(["added", "removed", "promoted", "demoted"]),
  participants: z.array(z.string()).min(1),
  by: z.string().nullable(),
});
export type GroupParticipantsChanged = z.infer<typeof GroupParticipantsChanged>;

/**
 * A WhatsApp profile as a number sees it: the display name (the number's
 * own only: WhatsApp does not hand out other people's), the "about" text
 * and when it was set, and WhatsApp's link to the picture. Each is null when
 * there is none or the person's privacy settings hide it. The picture link
 * is WhatsApp's own and expires (hours to days): use it now, do not keep it.
 */
export const WhatsAppProfile = z.object({
  jid: z.string(),
  name: z.string().nullable(),
  about: z.string().nullable(),
  /** ISO 8601; null when WhatsApp does not say. */
  about_set_at: z.string().nullable(),
  picture_url: z.string().nullable(),
});
export type WhatsAppProfile = z.infer<typeof WhatsAppProfile>;

/** WhatsApp's limits on a number's own profile (its apps refuse longer). */
export const PROFILE_NAME_MAX = 25;
export const PROFILE_ABOUT_MAX = 139;

/**
 * A picture fetched for a contact's avatar (`profile.picture`): the JPEG
 * bytes in base64, or null when the person has none or their privacy hides
 * it from this number.
 */
export const PictureBytes = z.object({
  jid: z.string(),
  base64: z.string().nullable(),
  mime_type: z.string().nullable(),
});
export const MAX_AVATAR_BYTES = 512 * 1024;

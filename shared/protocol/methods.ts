/**
 * The protocol's vocabulary: every event and request method by name, with
 * the schemas of what it carries. Both ends validate against these tables.
 */
import { z } from "zod";
import { Hello, InstanceList, LeaseDenied, LeaseGranted, StatusEvent } from "./instance.ts";
import { InboundMessage, IncomingCall, LidMapping, MAX_MAPPINGS_PER_EVENT } from "./inbound.ts";
import { EditableType, MessageStatusEvent, OutboundContent, QuotedMessage, StatusPost } from "./outbound.ts";
import {
  BlockAction,
  ChatState,
  GROUP_JID,
  GroupChanges,
  GroupParticipantsChanged,
  GroupUpdated,
  MAX_GROUP_PARTICIPANTS,
  MAX_PRESENCE_SUBSCRIPTIONS,
  MAX_RECEIPTS_PER_CALL,
  ParticipantAction,
  ParticipantResult,
  PROFILE_ABOUT_MAX,
  PROFILE_NAME_MAX,
  PictureBytes,
  PresenceUpdate,
  ReadReceiptKey,
  WhatsAppGroup,
  WhatsAppProfile,
} from "./whatsapp.ts";

/** One-way events, by name, with the schema of their `data`. */
export const Events = {
  // fleet -> directory
  hello: Hello,
  // directory -> fleet
  assign: InstanceList,
  revoke: InstanceList,
  // instance DO -> fleet
  "lease.granted": LeaseGranted,
  "lease.denied": LeaseDenied,
  // fleet -> instance DO
  status: StatusEvent,
  /** The fleet is letting go of the instance (drain); the lease ends now. */
  release: z.object({}),
  /** Receipts (delivered, read, played) and late server errors for sent messages. */
  "message.status": MessageStatusEvent,
  /** LID <-> phone pairs learned from messages, lid-mapping events and history sync. */
  "lid.mappings": z.object({ mappings: z.array(LidMapping).min(1).max(MAX_MAPPINGS_PER_EVENT) }),
  /** The WhatsApp socket received nothing for `silent_ms` (no frames, no pongs) and was replaced; the edge counts these. */
  "socket.silent": z.object({ silent_ms: z.number().int().min(0) }),
  /** Someone's presence, as the number heard it (it subscribed to them: `presence.subscribe`). */
  "presence.update": PresenceUpdate,
  /** A group the number is in changed its subject, description or settings. */
  "group.updated": GroupUpdated,
  /** People were added to, removed from, promoted or demoted in a group the number is in. */
  "group.participants": GroupParticipantsChanged,
} as const;
export type EventName = keyof typeof Events;
export type EventData<E extends EventName> = z.infer<(typeof Events)[E]>;

// ---------------------------------------------------------------- requests

/** Session values are opaque ciphertext strings to the edge; null deletes. */
const SessionEntries = z.record(z.string(), z.string().nullable());

/** Request methods, by name, with params and result schemas. */
export const Methods = {
  // fleet -> instance DO: durable session storage (values encrypted by the fleet)
  "session.get": {
    params: z.object({ keys: z.array(z.string()).max(2_000) }),
    result: z.object({ values: SessionEntries }),
  },
  /** Applied atomically: all entries or none. */
  "session.set": {
    params: z.object({ entries: SessionEntries }),
    result: z.object({ written: z.number().int() }),
  },
  "session.clear": {
    params: z.object({}),
    result: z.object({ cleared: z.number().int() }),
  },
  // instance DO -> fleet: operator commands
  "instance.restart": { params: z.object({}), result: z.object({}) },
  "instance.logout": { params: z.object({}), result: z.object({}) },
  "instance.pairing_code": {
    params: z.object({ phone: z.string() }),
    result: z.object({ code: z.string() }),
  },
  /** `creds` is a Baileys creds.json object in BufferJSON encoding. */
  "instance.import_session": {
    params: z.object({ creds: z.record(z.string(), z.unknown()) }),
    result: z.object({}),
  },
  /**
   * Sends one message. `wa_message_id` is chosen by the edge before the
   * first attempt and reused on every retry, so a send repeated after a
   * crash is the same message to WhatsApp, never a second one.
   * `typing_ms` > 0: show "typing..." that long first.
   * Answered once WhatsApp acknowledged the message (not when the frame
   * left). Errors: `not_connected` (retry later), `media_unavailable`,
   * `invalid_content` (permanent), `server_error` (WhatsApp refused it; the
   * message is its error code, e.g. "463"), `send_failed` (retry).
   */
  "message.send": {
    params: z.object({
      message_id: z.string(),
      wa_message_id: z.string(),
      chat_jid: z.string(),
      content: OutboundContent,
      /** A reply: the message quoted (absent from older edges, ignored by older fleets). */
      quoted: QuotedMessage.nullable().default(null),
      /** A status post (`chat_jid` is `status@broadcast`): its audience and looks. */
      status: StatusPost.nullable().default(null),
      typing_ms: z.number().int().min(0).max(30_000).default(0),
    }),
    result: z.object({
      wa_message_id: z.string(),
      /** Unix seconds, as WhatsApp stamped it. */
      timestamp: z.number().int(),
      /** Polls: base64 of the message secret, needed later to decrypt votes. */
      message_secret: z.string().nullable().default(null),
      /** Polls: the creation message as BufferJSON, to resolve vote hashes later. */
      poll_message: z.string().nullable().default(null),
      /**
       * The session writes the send made (its chat's ratchet step), as
       * `session.set`'s `entries`: stored in the answer's own step, so a send
       * costs no `session.set` of its own. Absent from older fleets, which
       * wrote them by `session.set` before answering.
       */
      session: SessionEntries.optional(),
    }),
  },
  /**
   * Edits the text, or the caption, of a message this number sent
   * (`wa_message_id`, of `type` text, image, video or document) to `text`.
   * `edit_id` is the edit's own WhatsApp id, chosen by the edge from the
   * message and its edit count, so an edit retried after a lost answer is
   * the same WhatsApp message. Answered once WhatsApp acknowledged it.
   * Errors: `not_connected` (nothing sent), `server_error` (WhatsApp refused
   * it; the message is its code), `send_failed` (no ack in time: retry).
   */
  "message.edit": {
    params: z.object({
      chat_jid: z.string(),
      wa_message_id: z.string().min(1),
      type: EditableType,
      text: z.string().min(1),
      edit_id: z.string().min(1),
    }),
    result: z.object({ edit_id: z.string() }),
  },
  /**
   * Deletes messages this number sent for everyone: each part of one of our
   * messages (`wa_message_id`), by a revoke whose WhatsApp id (`revoke_id`)
   * the edge chose, so a retried delete is the same WhatsApp message.
   * Answered once WhatsApp acknowledged every revoke. Errors as `message.edit`.
   */
  "message.revoke": {
    params: z.object({
      chat_jid: z.string(),
      parts: z.array(z.object({ wa_message_id: z.string().min(1), revoke_id: z.string().min(1) })).min(1).max(10),
      /** A status post's delete goes to the audience the post went to. */
      status: StatusPost.nullable().default(null),
    }),
    result: z.object({ revoked: z.number().int() }),
  },
  /**
   * Which of these numbers are on WhatsApp, and under which JID. `phones`
   * are digits with country code; the caller sends both Brazilian variants
   * (with and without the 9th digit) and keeps what the server returns: up
   * to 200 for the 100 phones of one `POST /numbers/check`, in one query.
   */
  "contacts.resolve": {
    params: z.object({ phones: z.array(z.string().regex(/^\d{6,15}$/)).min(1).max(200) }),
    result: z.object({
      results: z.array(z.object({ phone: z.string(), exists: z.boolean(), jid: z.string().nullable() })),
    }),
  },
  /**
   * Blocks or unblocks a user on WhatsApp itself (the number's own block
   * list), not in our CRM. `jid`: a phone JID or a LID. Errors:
   * `not_connected`, `not_on_whatsapp` (WhatsApp cannot name that user),
   * `invalid_jid`, `block_failed`.
   */
  "contacts.block": {
    params: z.object({ jid: z.string().min(1), action: BlockAction }),
    result: z.object({ jid: z.string(), blocked: z.boolean() }),
  },
  /** The WhatsApp groups this number is in, with their participants. Errors: `not_connected`, `groups_failed`. */
  "groups.list": {
    params: z.object({}),
    result: z.object({ groups: z.array(WhatsAppGroup) }),
  },
  /** One group. Errors: `not_connected`, `group_not_found` (no such group, or this number is not in it), `groups_failed`. */
  "groups.get": {
    params: z.object({ jid: z.string().regex(GROUP_JID) }),
    result: z.object({ group: WhatsAppGroup }),
  },
  /** The number's own profile. Errors: `not_connected`, `profile_failed`. */
  "profile.get": {
    params: z.object({}),
    result: z.object({ profile: WhatsAppProfile }),
  },
  /**
   * Changes the number's own profile: what is given changes, in this order
   * (name, about, picture), and the profile as WhatsApp then has it is the
   * answer. `picture`: a stored image (`media_id`, as `message.send`'s
   * media) to set, or null to remove it. Errors: `not_connected`,
   * `media_unavailable`, `invalid_picture` (not an image WhatsApp takes),
   * `profile_failed` (the message says which part).
   */
  "profile.set": {
    params: z.object({
      name: z.string().min(1).max(PROFILE_NAME_MAX).optional(),
      about: z.string().max(PROFILE_ABOUT_MAX).optional(),
      picture: z.object({ media_id: z.string().min(1) }).nullable().optional(),
    }),
    result: z.object({ profile: WhatsAppProfile }),
  },
  /** Someone's profile as this number may see it (`jid`: a phone JID or a LID). Errors: `not_connected`, `invalid_jid`, `profile_failed`. */
  "profile.contact": {
    params: z.object({ jid: z.string().min(1) }),
    result: z.object({ profile: WhatsAppProfile }),
  },
  /**
   * Someone's picture, downloaded from WhatsApp's CDN by the fleet, for the
   * contact's stored avatar. Errors: `not_connected`, `invalid_jid`,
   * `picture_failed` (WhatsApp or its CDN failed: try again later),
   * `rate_overlimit` (WhatsApp answered rate-overlimit: slow down).
   */
  "profile.picture": {
    params: z.object({ jid: z.string().min(1) }),
    result: PictureBytes,
  },
  /**
   * Group administration. Each names the group by `jid`; the number must be
   * in it (`not_group_member` otherwise, and for a group WhatsApp hides from
   * it), and for admin actions an admin of it (`not_group_admin`: checked in
   * the group's metadata before WhatsApp is asked, and WhatsApp's own
   * refusal reads the same). Also `group_not_found`, `not_connected`,
   * `groups_failed`.
   */
  "groups.create": {
    params: z.object({ subject: z.string().min(1).max(100), participants: z.array(z.string().min(1)).max(MAX_GROUP_PARTICIPANTS) }),
    result: z.object({ group: WhatsAppGroup }),
  },
  /** Changes what `changes` names, then answers the group as it is now. */
  "groups.update": {
    params: z.object({ jid: z.string().regex(GROUP_JID), changes: GroupChanges }),
    result: z.object({ group: WhatsAppGroup }),
  },
  /** One action for each person named; WhatsApp answers per person. */
  "groups.participants": {
    params: z.object({
      jid: z.string().regex(GROUP_JID),
      action: ParticipantAction,
      participants: z.array(z.string().min(1)).min(1).max(MAX_GROUP_PARTICIPANTS),
    }),
    result: z.object({ results: z.array(ParticipantResult) }),
  },
  /** The group's invite code; `revoke`: a new one, the old link stops working. Admins only. */
  "groups.invite": {
    params: z.object({ jid: z.string().regex(GROUP_JID), revoke: z.boolean() }),
    result: z.object({ code: z.string() }),
  },
  /** Joins by invite code. Errors: `invite_invalid` (no such code, or revoked), `group_full`. */
  "groups.join": {
    params: z.object({ code: z.string().min(1) }),
    result: z.object({ jid: z.string() }),
  },
  "groups.leave": {
    params: z.object({ jid: z.string().regex(GROUP_JID) }),
    result: z.object({}),
  },
  /**
   * Read receipts ("blue ticks") for received messages, sent as they are
   * (repeating one is harmless to WhatsApp). Answered once they left the
   * socket. Errors: `not_connected`, `read_failed`.
   */
  "messages.read": {
    params: z.object({ keys: z.array(ReadReceiptKey).min(1).max(MAX_RECEIPTS_PER_CALL) }),
    result: z.object({ read: z.number().int() }),
  },
  /** Shows "typing..." (`composing`), "recording audio..." or neither (`paused`) in a chat. Errors: `not_connected`, `presence_failed`. */
  "presence.send": {
    params: z.object({ jid: z.string().min(1), state: ChatState }),
    result: z.object({}),
  },
  /**
   * Asks WhatsApp for these people's presence (WhatsApp forgets it when the
   * socket closes: the edge names them again after every connect), which
   * comes back as `presence.update` events. `online`: the number shows
   * itself available first (WhatsApp sends presence only to an online
   * client; an `always_online` number is told so with no `jids`); false
   * with no `jids` makes it unavailable again. The edge alone decides which
   * (edge/objects/presence.ts).
   * Errors: `not_connected`, `presence_failed`.
   */
  "presence.subscribe": {
    params: z.object({ jids: z.array(z.string().min(1)).max(MAX_PRESENCE_SUBSCRIPTIONS), online: z.boolean() }),
    result: z.object({ subscribed: z.number().int() }),
  },
  /**
   * Rejects a call ringing the number (Baileys `rejectCall`): the caller sees
   * it declined. Errors: `not_connected`, `reject_failed`.
   */
  "call.reject": {
    params: z.object({ call_id: z.string().min(1), from: z.string().min(1) }),
    result: z.object({}),
  },
  /**
   * fleet -> instance DO: someone called the number. Answered once the
   * edge acted on it (rejected it through `call.reject` when the project
   * says so, queued its answer text) and announced it (`call.received`), so
   * the fleet repeats it until answered; a repeat of a call id is
   * `duplicate` and announces nothing.
   */
  "call.received": {
    params: IncomingCall,
    result: z.object({ rejected: z.boolean(), message_id: z.string().nullable(), duplicate: z.boolean() }),
  },
  /**
   * fleet -> instance DO: one received message. Answered once the edge has
   * stored it (and queued its events), so the fleet holds a message until
   * then and resends it after a lost link; the edge drops repeats by
   * WhatsApp id, so a resend is never a second message. An edit or a revoke
   * answers the message it changed, or `message_id: null` when that message
   * is not stored here (nothing was changed; the fleet lets go of it too).
   */
  "message.received": {
    params: InboundMessage,
    result: z.object({ message_id: z.string().nullable(), duplicate: z.boolean() }),
  },
  /**
   * fleet -> instance DO: where to put a received file. The edge answers a
   * short-lived presigned PUT into the private bucket: the fleet uploads the
   * bytes there itself and never holds bucket credentials.
   */
  "media.upload_url": {
    params: z.object({
      mime_type: z.string().min(1),
      size: z.number().int().min(0),
      filename: z.string().nullable().default(null),
    }),
    result: z.object({
      media_id: z.string(),
      url: z.string(),
      /** Headers the PUT must carry exactly as given (they are part of the signature). */
      headers: z.record(z.string(), z.string()),
      expires_at: z.string(),
    }),
  },
  /** Round trip probe, for measuring the edge <-> fleet link. */
  echo: { params: z.object({ at: z.number() }), result: z.object({ at: z.number() }) },
} as const;
export type MethodName = keyof typeof Methods;
export type Params<M extends MethodName> = z.input<(typeof Methods)[M]["params"]>;
export type Result<M extends MethodName> = z.infer<(typeof Methods)[M]["result"]>;

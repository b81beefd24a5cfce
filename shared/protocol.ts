/**
 * The edge <-> fleet wire protocol.
 *
 * A fleet process keeps two kinds of WebSocket to the edge:
 *  - one to the FleetDirectory (`GET /fleet/connect`), which tells it which
 *    instances to run (`assign`) or drop (`revoke`);
 *  - one per instance it runs, to that instance's Durable Object
 *    (`GET /fleet/instances/:id/connect`). Holding that socket open *is* the
 *    lease: the Durable Object accepts one holder at a time.
 *
 * Every JSON frame carries `v` (the protocol version) and is one of three
 * kinds: `evt` (one-way), `req` (expects a `res` with the same `id`) and
 * `res`. Liveness uses the plain text frames `ping` / `pong`, which the
 * Durable Objects answer without waking up (hibernation auto-response), so an
 * idle number costs the edge nothing while still renewing its lease.
 */
import { z } from "zod";

export const PROTOCOL_VERSION = 1;

/** Text frames answered by the edge without waking the Durable Object. */
export const PING = "ping";
export const PONG = "pong";

/** How long a lease lives without a `pong`; the fleet pings well inside it. */
export const LEASE_TTL_MS = 15_000;
export const PING_INTERVAL_MS = 3_000;
/** A fleet kills its socket this long before the edge would consider the lease expired. */
export const LEASE_FENCE_MARGIN_MS = 3_000;

export const InstanceState = z.enum(["qr_pending", "connecting", "connected", "disconnected"]);
export type InstanceState = z.infer<typeof InstanceState>;

/**
 * Why a number is disconnected: `transient` (it reconnects by itself),
 * `logged_out` (rescan needed), `banned` (out of rotation), `pairing_expired`
 * (nobody scanned its QRs; it waits for a restart or a new QR/pairing-code
 * request). All but `transient` park the number: no fleet reconnects it by itself.
 */
export const DisconnectReason = z.enum(["transient", "logged_out", "banned", "pairing_expired"]);
export type DisconnectReason = z.infer<typeof DisconnectReason>;

/** WebSocket close codes the edge uses towards a fleet. */
export const CloseCode = {
  normal: 1000,
  /** The lease is held by another fleet process. */
  leaseHeld: 4001,
  /** The instance was deleted. */
  deleted: 4004,
  /** The directory took the instance away (rebalance); release and forget it. */
  revoked: 4005,
  /** Protocol version mismatch. */
  badVersion: 4400,
} as const;

// ---------------------------------------------------------------- events

/** What a fleet reports about one instance's socket. Sent on every change. */
export const StatusEvent = z.object({
  state: InstanceState,
  reason: DisconnectReason.nullable().default(null),
  /** Baileys/WhatsApp close code of the last disconnect, if any. */
  close_code: z.number().int().nullable().default(null),
  /** Current QR string while `qr_pending`. */
  qr: z.string().nullable().default(null),
  /** The same QR as a PNG data URL, rendered by the fleet. */
  qr_png: z.string().nullable().default(null),
  /** Our own JID once known, e.g. `5511999999999:1@s.whatsapp.net`. */
  jid: z.string().nullable().default(null),
  lid: z.string().nullable().default(null),
  push_name: z.string().nullable().default(null),
});
export type StatusEvent = z.infer<typeof StatusEvent>;

export const LeaseGranted = z.object({
  instance_id: z.string(),
  ttl_ms: z.number().int(),
  config: z.object({
    name: z.string(),
    proxy_url: z.string().nullable(),
    /** Set when the number is parked (logged out, banned, pairing expired): hold it, do not connect until a command says so. */
    parked: DisconnectReason.optional(),
  }),
});
export type LeaseGranted = z.infer<typeof LeaseGranted>;

export const LeaseDenied = z.object({
  retry_after_ms: z.number().int(),
  holder: z.string().nullable(),
});
export type LeaseDenied = z.infer<typeof LeaseDenied>;

export const Hello = z.object({
  fleet_id: z.string().min(1),
  host: z.string(),
  pid: z.number().int(),
  /** Most instances this process will run; 0 = no limit. */
  capacity: z.number().int().min(0),
});
export type Hello = z.infer<typeof Hello>;

export const InstanceList = z.object({ instance_ids: z.array(z.string()) });

// ---------------------------------------------------------------- outbound messages

/**
 * What the edge asks a number to send, in our own terms; the fleet turns it
 * into Baileys content. Menus (buttons, lists) and OTPs are already text by
 * the time they get here.
 */
export const MediaType = z.enum(["image", "video", "document", "audio", "sticker"]);
export type MediaType = z.infer<typeof MediaType>;

const mediaContent = <T extends MediaType>(type: T) =>
  z.object({
    type: z.literal(type),
    /** Fetch the bytes from the edge: `GET /fleet/media/{media_id}`. */
    media_id: z.string(),
    mimetype: z.string(),
    filename: z.string().nullable().default(null),
    caption: z.string().nullable().default(null),
    /** Audio only: send as a voice note. */
    ptt: z.boolean().default(false),
  });

export const OutboundContent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string() }),
  mediaContent("image"),
  mediaContent("video"),
  mediaContent("document"),
  mediaContent("audio"),
  mediaContent("sticker"),
  z.object({
    type: z.literal("location"),
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().nullable().default(null),
    address: z.string().nullable().default(null),
  }),
  z.object({ type: z.literal("contact"), display_name: z.string(), vcard: z.string() }),
  z.object({
    type: z.literal("reaction"),
    emoji: z.string(),
    /** The message reacted to. `from_me`: it was sent by this number. */
    target: z.object({ id: z.string(), from_me: z.boolean(), participant: z.string().nullable().default(null) }),
  }),
  z.object({
    type: z.literal("poll"),
    name: z.string(),
    options: z.array(z.string()).min(2).max(12),
    selectable_count: z.number().int().min(0),
  }),
]);
export type OutboundContent = z.infer<typeof OutboundContent>;

export const MessageStatus = z.enum(["queued", "sent", "delivered", "read", "played", "failed"]);
export type MessageStatus = z.infer<typeof MessageStatus>;

/** A receipt or server verdict on a message this number sent. */
export const MessageStatusEvent = z.object({
  wa_message_id: z.string(),
  chat_jid: z.string(),
  status: MessageStatus.exclude(["queued"]),
  /** For `failed`: the server's error code, e.g. "463". */
  error_code: z.string().nullable().default(null),
});
export type MessageStatusEvent = z.infer<typeof MessageStatusEvent>;

// ---------------------------------------------------------------- inbound messages

/** Types a received message can have (reference 002); anything else arrives as `unsupported`. */
export const InboundType = z.enum([
  "text",
  "image",
  "video",
  "audio",
  "document",
  "sticker",
  "location",
  "contact",
  "reaction",
  "poll",
  "poll_vote",
  "unsupported",
]);
export type InboundType = z.infer<typeof InboundType>;

/** A file received with a message, already in the private bucket (see `media.upload_url`). */
export const InboundMedia = z.object({
  media_id: z.string(),
  mime_type: z.string(),
  filename: z.string().nullable().default(null),
  size: z.number().int().min(0),
  /** Audio: a voice note. */
  ptt: z.boolean().default(false),
});
export type InboundMedia = z.infer<typeof InboundMedia>;

/**
 * One message a number received, as the fleet translated it from Baileys.
 * JIDs are as WhatsApp gave them: `chat_jid` may be an `@lid` with the phone
 * JID in `chat_jid_alt` (or the other way round); the edge picks the
 * canonical one. Poll votes arrive with the selected options' SHA-256 hashes
 * (hex), already decrypted; the edge names them from the stored poll.
 */
export const InboundMessage = z.object({
  wa_message_id: z.string().min(1),
  chat_jid: z.string().min(1),
  chat_jid_alt: z.string().nullable().default(null),
  /** Who wrote it: the chat itself for one-to-one chats, the participant in groups. */
  sender_jid: z.string().min(1),
  sender_jid_alt: z.string().nullable().default(null),
  push_name: z.string().nullable().default(null),
  /** Unix seconds, as WhatsApp stamped it. */
  timestamp: z.number().int(),
  /** Written by this number from another device (the phone app), not by the customer. */
  from_me: z.boolean().default(false),
  /** Delivered while the number was offline (Baileys `append`), or replayed after a restart. */
  offline: z.boolean().default(false),
  type: InboundType,
  /** Text, caption, location name, contact name, reaction emoji, poll name. */
  body: z.string().nullable().default(null),
  /** The WhatsApp id of the message this one replies or reacts to. */
  quoted_id: z.string().nullable().default(null),
  media: InboundMedia.nullable().default(null),
  /** Set when the file could not be fetched from WhatsApp or stored: the message still arrives. */
  media_error: z.string().nullable().default(null),
  location: z
    .object({ latitude: z.number(), longitude: z.number(), name: z.string().nullable(), address: z.string().nullable() })
    .nullable()
    .default(null),
  contact: z.object({ display_name: z.string(), vcard: z.string() }).nullable().default(null),
  poll: z
    .object({ name: z.string(), options: z.array(z.string()), selectable_count: z.number().int().min(0) })
    .nullable()
    .default(null),
  poll_vote: z
    .object({ poll_message_id: z.string(), selected_hashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)) })
    .nullable()
    .default(null),
});
export type InboundMessage = z.infer<typeof InboundMessage>;

// ---------------------------------------------------------------- WhatsApp groups and blocks

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

/** A LID and the phone JID behind it, as Baileys learned it. */
export const LidMapping = z.object({ lid: z.string().min(1), pn: z.string().min(1) });
export type LidMapping = z.infer<typeof LidMapping>;
/** The most pairs one `lid.mappings` event (or one spooled message) may carry. */
export const MAX_MAPPINGS_PER_EVENT = 500;

/**
 * fleet -> edge over HTTP (`POST /fleet/instances/{id}/received`, fleet
 * token): a received message from a fleet process's spool, with the LID
 * pairs it taught, for a process that holds no granted link to the number
 * (its lease moved, or it is draining). Answered like `message.received`.
 * The file ticket goes the same way: `POST /fleet/instances/{id}/media-upload-url`
 * with `media.upload_url`'s params.
 */
export const SpooledMessage = z.object({
  message: InboundMessage,
  mappings: z.array(LidMapping).max(MAX_MAPPINGS_PER_EVENT).default([]),
});
export type SpooledMessage = z.input<typeof SpooledMessage>;

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
    }),
  },
  /**
   * Which of these numbers are on WhatsApp, and under which JID. `phones`
   * are digits with country code; the caller sends both Brazilian variants
   * (with and without the 9th digit) and keeps what the server returns.
   */
  "contacts.resolve": {
    params: z.object({ phones: z.array(z.string().regex(/^\d{6,15}$/)).min(1).max(50) }),
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
  /**
   * fleet -> instance DO: one received message. Answered once the edge has
   * stored it (and queued its events), so the fleet holds a message until
   * then and resends it after a lost link; the edge drops repeats by
   * WhatsApp id, so a resend is never a second message.
   */
  "message.received": {
    params: InboundMessage,
    result: z.object({ message_id: z.string(), duplicate: z.boolean() }),
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

// ---------------------------------------------------------------- frames

export const RpcError = z.object({ code: z.string(), message: z.string() });
export type RpcError = z.infer<typeof RpcError>;

// A plain union: `res` appears twice (ok / error), which a discriminated union forbids.
export const Frame = z.union([
  z.object({ v: z.number().int(), t: z.literal("evt"), event: z.string(), data: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("req"), id: z.number().int(), method: z.string(), params: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("res"), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("res"), id: z.number().int(), ok: z.literal(false), error: RpcError }),
]);
export type Frame = z.infer<typeof Frame>;

export function eventFrame<E extends EventName>(event: E, data: EventData<E>): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, t: "evt", event, data });
}

export function parseFrame(text: string): Frame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProtocolError("bad_frame", "frame is not JSON");
  }
  const parsed = Frame.safeParse(json);
  if (!parsed.success) throw new ProtocolError("bad_frame", parsed.error.message);
  if (parsed.data.v !== PROTOCOL_VERSION) {
    throw new ProtocolError("bad_version", `protocol v${parsed.data.v}, expected v${PROTOCOL_VERSION}`);
  }
  return parsed.data;
}

export class ProtocolError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "ProtocolError";
  }
}

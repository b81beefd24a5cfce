/**
 * The Baileys socket as the fleet uses it, the bottom layer one number's code
 * builds on: its shape (the part of Baileys' socket we call), and how one is
 * made and ended. Everything above (connection.ts and the layers on it) takes
 * sockets from here.
 */
import makeWASocket, {
  type AnyMessageContent,
  type AuthenticationCreds,
  type BaileysEventMap,
  type ConnectionState,
  type Contact,
  type GroupMetadata,
  type MessageRelayOptions,
  type MessageUpsertType,
  type MessageUserReceiptUpdate,
  type MiscMessageGenerationOptions,
  type USyncQuery,
  type USyncQueryResult,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAMessageKey,
  type WAMessageUpdate,
  type WAPresence,
  type WASocket,
  type proto,
} from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { withTimeout } from "./deadlines.ts";
import { errorText } from "./errors.ts";
import { type LidLookupSocket, lookUpSendersEarly } from "./lid-prefetch.ts";
import { DEFAULT_SILENCE_MS, type FrameSource, keepAliveFor } from "./liveness.ts";
import { baileysLogger } from "./logger.ts";
import { proxyAgent } from "./proxy.ts";
import type { AckSource } from "./server-acks.ts";
import { type SessionStore, type SessionStoreOptions, openSessionStore } from "./session-store.ts";
import type { WaVersionSource } from "./wa-version.ts";

/** The part of a Baileys socket the fleet uses; tests hand in a fake one. */
export type SocketLike = {
  ev: {
    on(event: "connection.update", listener: (update: Partial<ConnectionState>) => void): void;
    on(event: "creds.update", listener: (update: Partial<AuthenticationCreds>) => void): void;
    on(event: "messages.update", listener: (updates: WAMessageUpdate[]) => void): void;
    on(event: "message-receipt.update", listener: (updates: MessageUserReceiptUpdate[]) => void): void;
    // The receive path (see inbound-receiver.ts).
    on(event: "messages.upsert", listener: (upsert: BaileysEventMap["messages.upsert"]) => void): void;
    on(event: "lid-mapping.update", listener: (mapping: BaileysEventMap["lid-mapping.update"]) => void): void;
    on(event: "messaging-history.set", listener: (history: BaileysEventMap["messaging-history.set"]) => void): void;
    on(event: "contacts.upsert", listener: (contacts: Contact[]) => void): void;
    on(event: "contacts.update", listener: (contacts: Partial<Contact>[]) => void): void;
    // Presence of the people the number subscribed to (presence-watch.ts).
    on(event: "presence.update", listener: (update: BaileysEventMap["presence.update"]) => void): void;
    // Changes to the number's groups (group-admin.ts).
    on(event: "groups.update", listener: (updates: BaileysEventMap["groups.update"]) => void): void;
    on(event: "group-participants.update", listener: (update: BaileysEventMap["group-participants.update"]) => void): void;
    // Calls to the number (calls.ts).
    on(event: "call", listener: (calls: BaileysEventMap["call"]) => void): void;
  };
  readonly user?: Contact;
  /** Asks the sender's phone to upload a received file again when WhatsApp no longer has it. */
  updateMediaMessage?(message: WAMessage): Promise<WAMessage>;
  end(error: Error | undefined): void | Promise<void>;
  logout(msg?: string): Promise<void>;
  requestPairingCode(phoneNumber: string): Promise<string>;
  sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage | undefined>;
  /** Sends a message built here (edits: see outbound-content.ts `editMessage`) under `messageId`. */
  relayMessage(jid: string, message: proto.IMessage, options: MessageRelayOptions): Promise<string>;
  sendPresenceUpdate(type: WAPresence, toJid?: string): Promise<void>;
  /** Read receipts for received messages (grouped by chat and participant, one receipt node each). */
  readMessages(keys: WAMessageKey[]): Promise<void>;
  /** Asks WhatsApp for someone's presence until the socket closes. */
  presenceSubscribe(jid: string): Promise<void>;
  /** Declines a call ringing the number. */
  rejectCall(callId: string, callFrom: string): Promise<void>;
  executeUSyncQuery(query: USyncQuery): Promise<USyncQueryResult | undefined>;
  // WhatsApp groups and the block list (see whatsapp-queries.ts).
  updateBlockStatus(jid: string, action: "block" | "unblock"): Promise<void>;
  groupFetchAllParticipating(): Promise<{ [jid: string]: GroupMetadata }>;
  groupMetadata(jid: string): Promise<GroupMetadata>;
  // Profiles (see profile.ts).
  updateProfileName(name: string): Promise<void>;
  updateProfileStatus(status: string): Promise<void>;
  updateProfilePicture(jid: string, content: Buffer): Promise<void>;
  removeProfilePicture(jid: string): Promise<void>;
  fetchStatus(...jids: string[]): Promise<USyncQueryResult["list"] | undefined>;
  profilePictureUrl(jid: string, type?: "preview" | "image"): Promise<string | undefined>;
  /** Baileys' frame emitter: server acks of our messages come through it, and every frame (liveness.ts). */
  ws: AckSource & FrameSource & LidLookupSocket["ws"];
  /** Baileys' LID mappings (lid-prefetch.ts); fakes leave it out. */
  signalRepository?: LidLookupSocket["signalRepository"];
} & Pick<WASocket, GroupAdminFunctions>;

/** Baileys' group administration, as group-admin.ts uses it. */
type GroupAdminFunctions =
  | "groupCreate"
  | "groupUpdateSubject"
  | "groupUpdateDescription"
  | "groupSettingUpdate"
  | "groupParticipantsUpdate"
  | "groupInviteCode"
  | "groupRevokeInvite"
  | "groupAcceptInvite"
  | "groupLeave";

export type MakeSocket = (config: UserFacingSocketConfig) => SocketLike;

/** The socket of the moment, as the layers above the lifecycle (sending, queries) see it. */
export type Sockets = {
  /** The socket now, open or still handshaking; null between sockets. */
  current(): SocketLike | null;
  /** The socket now if it is open, else `not_connected` (the edge waits and asks again). */
  open(): SocketLike;
  /** True while `sock` is the socket now and still open. */
  isOpen(sock: SocketLike): boolean;
  /** The session store `sock` runs on, while it is the socket now (a send's writes ride on its answer). */
  store?(sock: SocketLike): Pick<SessionStore, "sending"> | null;
};

/** What every socket of one number is made with. */
export type SocketSettings = SessionStoreOptions & {
  /** Already a child logger carrying `instance_id`. */
  logger: Logger;
  versions: WaVersionSource;
  /** WhatsApp WebSocket URL for this number; undefined = WhatsApp's own. */
  waUrl?: string;
  fireInitQueries: boolean;
  /** The number's proxy may be on a private address (POMBO_ALLOW_PRIVATE_NETWORKS=true). */
  allowPrivateNetworks: boolean;
  /** A socket that receives nothing this long is replaced (liveness.ts): Baileys pings inside it. */
  silenceMs: number;
  makeSocket: MakeSocket;
};

/** Settings with a default. */
type Defaulted = "allowPrivateNetworks" | "silenceMs" | "makeSocket";
/** Socket settings as a caller gives them: those with a default may be left out. */
export type SocketOptions = Omit<SocketSettings, Defaulted> & Partial<Pick<SocketSettings, Defaulted>>;

/** The settings with their defaults: private networks refused, liveness.ts's silence bound, Baileys' own socket. */
export function socketSettings<T extends SocketOptions>(opts: T): T & SocketSettings {
  const silenceMs = opts.silenceMs ?? DEFAULT_SILENCE_MS;
  const makeSocket = opts.makeSocket ?? (makeWASocket as unknown as MakeSocket);
  return { ...opts, allowPrivateNetworks: opts.allowPrivateNetworks ?? false, silenceMs, makeSocket };
}

const LOGOUT_TIMEOUT_MS = 5_000;

/** A socket and the session store it runs on: made together, ended together. */
export type NumberSocket = { sock: SocketLike; store: SessionStore };

/**
 * A new socket for the number: its session loaded from the edge, and dialed
 * through its proxy, checked first (a proxy the policy refuses is never
 * dialed: this throws). Null, with nothing left open, when `stale()` says the
 * socket is no longer wanted by the time both are ready.
 */
export async function makeNumberSocket(
  settings: SocketSettings,
  opts: {
    proxyUrl: string | null;
    /** Patched into Baileys: the message is on disk before WhatsApp hears we have it. */
    beforeMessageAck: (msg: WAMessage, type: MessageUpsertType, sock: SocketLike) => Promise<void>;
    stale: () => boolean;
  },
): Promise<NumberSocket | null> {
  const { link, cipher, instanceId, logger } = settings;
  let store: SessionStore | null = null;
  try {
    store = await openSessionStore({ link, cipher, instanceId, logger });
    const agent = await proxyAgent(opts.proxyUrl, settings.allowPrivateNetworks);
    if (opts.stale()) {
      store.close();
      return null;
    }
    const sock: SocketLike = settings.makeSocket({
      auth: store.state,
      version: settings.versions.current(),
      ...(settings.waUrl ? { waWebSocketUrl: settings.waUrl } : {}),
      // Online on connect would silence the phone's notifications (WhatsApp pushes to the phone only while
      // no linked device is online): Baileys says `unavailable` instead, and a number goes online only to
      // watch presence (chat-signals.ts).
      markOnlineOnConnect: false,
      syncFullHistory: false,
      fireInitQueries: settings.fireInitQueries,
      keepAliveIntervalMs: keepAliveFor(settings.silenceMs),
      logger: baileysLogger(logger),
      ...(agent ? { agent, fetchAgent: agent } : {}),
      beforeMessageAck: (msg, type) => opts.beforeMessageAck(msg, type, sock),
    });
    lookUpSendersEarly(sock, logger);
    return { sock, store };
  } catch (err) {
    store?.close();
    throw err;
  }
}

/** Ends a socket that was let go of (either may be missing), and lets its queued session writes reach the edge. */
export async function endNumberSocket({ sock, store }: { sock: SocketLike | null; store: SessionStore | null }, logger: Logger): Promise<void> {
  if (sock) {
    try {
      await sock.end(undefined);
    } catch (err) {
      logger.debug({ err: errorText(err) }, "socket end failed");
    }
  }
  if (store) {
    store.close();
    await store.flush();
  }
}

/**
 * Tells WhatsApp to drop this linked device. If it cannot be told (a socket
 * half dead), wiping our side of the session still makes it unusable.
 */
export async function logOutNumberSocket(sock: SocketLike, logger: Logger): Promise<void> {
  try {
    await withTimeout(sock.logout(), LOGOUT_TIMEOUT_MS, "logout");
  } catch (err) {
    logger.warn({ err: errorText(err) }, "logout not confirmed by WhatsApp, clearing session anyway");
  }
}

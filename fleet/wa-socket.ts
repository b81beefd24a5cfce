/**
 * The Baileys socket as the fleet uses it: the bottom layer one number's
 * code builds on (the connection manager makes one, the receive path
 * listens to it), kept apart so that no layer needs another to know it.
 */
import type {
  AnyMessageContent,
  AuthenticationCreds,
  BaileysEventMap,
  ConnectionState,
  Contact,
  GroupMetadata,
  MessageUserReceiptUpdate,
  MiscMessageGenerationOptions,
  USyncQuery,
  USyncQueryResult,
  UserFacingSocketConfig,
  WAMessage,
  WAMessageUpdate,
  WAPresence,
} from "@whiskeysockets/baileys";
import type { FrameSource } from "./liveness.ts";
import type { AckSource } from "./server-acks.ts";

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
  };
  readonly user?: Contact;
  /** Asks the sender's phone to upload a received file again when WhatsApp no longer has it. */
  updateMediaMessage?(message: WAMessage): Promise<WAMessage>;
  end(error: Error | undefined): void | Promise<void>;
  logout(msg?: string): Promise<void>;
  requestPairingCode(phoneNumber: string): Promise<string>;
  sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage | undefined>;
  sendPresenceUpdate(type: WAPresence, toJid?: string): Promise<void>;
  executeUSyncQuery(query: USyncQuery): Promise<USyncQueryResult | undefined>;
  // WhatsApp groups and the block list (see whatsapp-queries.ts).
  updateBlockStatus(jid: string, action: "block" | "unblock"): Promise<void>;
  groupFetchAllParticipating(): Promise<{ [jid: string]: GroupMetadata }>;
  groupMetadata(jid: string): Promise<GroupMetadata>;
  /** Baileys' frame emitter: server acks of our messages come through it, and every frame (liveness.ts). */
  ws: AckSource & FrameSource;
};

export type MakeSocket = (config: UserFacingSocketConfig) => SocketLike;

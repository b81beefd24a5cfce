/**
 * A stand-in for a Baileys socket, for the connection manager's reactions to
 * things the loopback WhatsApp peer cannot produce (QR pairing, bans, 440,
 * 515, 405, media uploads, group sends, receipts, group metadata, the block
 * list, profile pictures). Tests drive it by emitting events as Baileys would, and read what
 * was sent from `sent` / `presences`.
 */
import { EventEmitter } from "node:events";
import {
  type AnyMessageContent,
  type ConnectionState,
  type Contact,
  type GroupMetadata,
  type MessageRelayOptions,
  type MiscMessageGenerationOptions,
  type USyncQuery,
  type USyncQueryResult,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAMessageKey,
  type WAPresence,
  assertNodeErrorFree,
  generateWAMessageFromContent,
  proto,
} from "@whiskeysockets/baileys";
import type { MakeSocket, SocketLike } from "../../fleet/wa-socket.ts";

export type SentRecord = { jid: string; content: AnyMessageContent; options?: MiscMessageGenerationOptions; at: number };
export type RelayedRecord = { jid: string; message: proto.IMessage; options: MessageRelayOptions; at: number };

export class FakeSocket implements SocketLike {
  ev = new EventEmitter();
  /** Frames from "WhatsApp": the fake acknowledges each send here, as the server does. */
  ws = new EventEmitter();
  /** "hold": sends get no server ack; a string: the next ack carries that error (e.g. "463"). */
  ack: "auto" | "hold" | string = "auto";
  config: UserFacingSocketConfig;
  ended = false;
  loggedOut = false;
  pairingRequests: string[] = [];
  sent: SentRecord[] = [];
  /** Messages built by the fleet itself (edits), as relayMessage got them. */
  relayed: RelayedRecord[] = [];
  presences: { type: WAPresence; jid?: string; at: number }[] = [];
  queries: USyncQuery[] = [];
  /** Set: the next sendMessage fails with it (then it is cleared). */
  failNextSend: Error | null = null;
  /** What executeUSyncQuery answers. */
  usyncAnswer: USyncQueryResult | undefined = { list: [], sideList: [] };
  /** The groups this number is in, as Baileys parsed them. */
  groups: Record<string, GroupMetadata> = {};
  /** The number's WhatsApp block list, and every change asked of it. */
  blockList = new Set<string>();
  blockRequests: { jid: string; action: "block" | "unblock" }[] = [];
  /** Set: the next group or block-list query fails with it (then it is cleared). */
  failNextQuery: Error | null = null;

  constructor(config: UserFacingSocketConfig) {
    this.config = config;
  }

  get user(): Contact | undefined {
    return this.config.auth.creds.me;
  }

  end(): void {
    this.ended = true;
  }

  async logout(): Promise<void> {
    this.loggedOut = true;
  }

  async requestPairingCode(phone: string): Promise<string> {
    this.pairingRequests.push(phone);
    return "K7QJ3XWP";
  }

  /** Records the send and answers the way Baileys does: the WAMessage, stamped now, with the id asked for. */
  async sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage> {
    this.sent.push({ jid, content, options, at: Date.now() });
    if (this.failNextSend) {
      const err = this.failNextSend;
      this.failNextSend = null;
      throw err;
    }
    this.#serverAck(options?.messageId);
    const message: proto.IMessage = "text" in content ? { conversation: content.text } : { conversation: "(not rendered by the fake)" };
    if ("poll" in content && content.poll) {
      message.messageContextInfo = { messageSecret: content.poll.messageSecret };
      message.pollCreationMessageV3 = { name: content.poll.name, options: content.poll.values.map((optionName) => ({ optionName })) };
      delete message.conversation;
    }
    return generateWAMessageFromContent(jid, message, {
      userJid: this.config.auth.creds.me?.id ?? "0@s.whatsapp.net",
      messageId: options?.messageId,
    });
  }

  async relayMessage(jid: string, message: proto.IMessage, options: MessageRelayOptions): Promise<string> {
    this.relayed.push({ jid, message, options, at: Date.now() });
    if (this.failNextSend) {
      const err = this.failNextSend;
      this.failNextSend = null;
      throw err;
    }
    this.#serverAck(options.messageId);
    return options.messageId ?? "";
  }

  /** WhatsApp's ack of a message (unless held), with the error set in `ack` if any. */
  #serverAck(id: string | undefined): void {
    if (this.ack === "hold") return;
    const error = this.ack === "auto" ? undefined : this.ack;
    this.ack = "auto";
    setImmediate(() => this.ws.emit("CB:ack,class:message", { attrs: { id, class: "message", ...(error ? { error } : {}) } }));
  }

  async sendPresenceUpdate(type: WAPresence, jid?: string): Promise<void> {
    this.presences.push({ type, jid, at: Date.now() });
  }

  /** Read receipts asked for, as Baileys got the keys. */
  reads: WAMessageKey[][] = [];
  /** Presence subscriptions asked for, in order. */
  presenceSubscriptions: string[] = [];

  async readMessages(keys: WAMessageKey[]): Promise<void> {
    this.reads.push(keys);
  }

  async presenceSubscribe(jid: string): Promise<void> {
    this.presenceSubscriptions.push(jid);
  }

  /** Calls declined, in order. */
  rejectedCalls: { callId: string; from: string }[] = [];

  async rejectCall(callId: string, from: string): Promise<void> {
    this.rejectedCalls.push({ callId, from });
  }

  async executeUSyncQuery(query: USyncQuery): Promise<USyncQueryResult | undefined> {
    this.queries.push(query);
    return this.usyncAnswer;
  }

  async updateBlockStatus(jid: string, action: "block" | "unblock"): Promise<void> {
    this.blockRequests.push({ jid, action });
    this.#maybeFail();
    if (action === "block") this.blockList.add(jid);
    else this.blockList.delete(jid);
  }

  // Group administration is tested on Baileys' own functions (group-admin.test.ts), not on this fake.
  declare groupCreate: SocketLike["groupCreate"];
  declare groupUpdateSubject: SocketLike["groupUpdateSubject"];
  declare groupUpdateDescription: SocketLike["groupUpdateDescription"];
  declare groupSettingUpdate: SocketLike["groupSettingUpdate"];
  declare groupParticipantsUpdate: SocketLike["groupParticipantsUpdate"];
  declare groupInviteCode: SocketLike["groupInviteCode"];
  declare groupRevokeInvite: SocketLike["groupRevokeInvite"];
  declare groupAcceptInvite: SocketLike["groupAcceptInvite"];
  declare groupLeave: SocketLike["groupLeave"];

  async groupFetchAllParticipating(): Promise<{ [jid: string]: GroupMetadata }> {
    this.#maybeFail();
    return { ...this.groups };
  }

  /** A group this number is not in gets WhatsApp's item-not-found, thrown the way Baileys throws it. */
  async groupMetadata(jid: string): Promise<GroupMetadata> {
    this.#maybeFail();
    const group = this.groups[jid];
    if (group) return group;
    assertNodeErrorFree({ tag: "iq", attrs: { type: "error" }, content: [{ tag: "error", attrs: { code: "404", text: "item-not-found" } }] });
    throw new Error("unreachable");
  }

  /** People's "about" texts, by JID, as WhatsApp answers `fetchStatus`. */
  abouts = new Map<string, string>();
  /** People's picture links, by JID; "hidden": their privacy hides it (WhatsApp's 401). None: no picture (404). */
  pictures = new Map<string, string | "hidden">();
  /** Profile changes asked of WhatsApp, in order: what the number's own profile was told. */
  profileChanges: ({ name: string } | { about: string } | { picture: Buffer; jid: string } | { removePicture: string })[] = [];

  async updateProfileName(name: string): Promise<void> {
    this.#maybeFail();
    this.profileChanges.push({ name });
  }

  async updateProfileStatus(about: string): Promise<void> {
    this.#maybeFail();
    this.profileChanges.push({ about });
    if (this.user) this.abouts.set(this.user.id.replace(/:\d+@/, "@"), about);
  }

  async updateProfilePicture(jid: string, picture: Buffer): Promise<void> {
    this.#maybeFail();
    this.profileChanges.push({ picture, jid });
  }

  async removeProfilePicture(jid: string): Promise<void> {
    this.#maybeFail();
    this.profileChanges.push({ removePicture: jid });
  }

  async fetchStatus(...jids: string[]): Promise<USyncQueryResult["list"]> {
    return jids.map((id) => ({ id, status: this.abouts.has(id) ? { status: this.abouts.get(id)!, setAt: new Date(1_790_000_000_000) } : null }));
  }

  /** Answers as WhatsApp does: the link, or an iq error Baileys throws (401 hidden, 404 none). */
  async profilePictureUrl(jid: string): Promise<string | undefined> {
    this.#maybeFail();
    const picture = this.pictures.get(jid);
    if (picture && picture !== "hidden") return picture;
    const [code, text] = picture === "hidden" ? ["401", "not-authorized"] : ["404", "item-not-found"];
    assertNodeErrorFree({ tag: "iq", attrs: { type: "error" }, content: [{ tag: "error", attrs: { code, text } }] });
    return undefined;
  }

  #maybeFail(): void {
    const err = this.failNextQuery;
    this.failNextQuery = null;
    if (err) throw err;
  }

  update(update: Partial<ConnectionState>): void {
    this.ev.emit("connection.update", update);
  }

  open(): void {
    this.update({ connection: "open" });
  }

  /** Closes the way Baileys does: a Boom error whose output.statusCode is WhatsApp's reason. */
  close(statusCode: number): void {
    const error = Object.assign(new Error(`closed ${statusCode}`), { output: { statusCode } });
    this.ended = true;
    this.update({ connection: "close", lastDisconnect: { error, date: new Date() } });
  }
}

export function fakeSockets(): { sockets: FakeSocket[]; makeSocket: MakeSocket } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    makeSocket: (config) => {
      const sock = new FakeSocket(config);
      sockets.push(sock);
      return sock;
    },
  };
}

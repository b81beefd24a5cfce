/**
 * What a number signals in chats besides messages, and what it hears back,
 * on its open socket: read receipts for received messages (`messages.read`),
 * typing or recording in a chat (`presence.send`), and subscriptions to
 * people's presence (`presence.subscribe`), whose answers (Baileys'
 * `presence.update`) go to the edge as `presence.update` events.
 *
 * WhatsApp forgets subscriptions when a socket closes; the number's object at
 * the edge keeps them and names them again every time the number connects,
 * so nothing here outlives a socket. Sockets start `unavailable`
 * (wa-socket.ts: `markOnlineOnConnect: false`, so the phone keeps getting
 * its notifications); a subscription makes the number `available` first,
 * because WhatsApp sends presence only to an online client.
 *
 * Thin around Baileys: each request is one call, asked as socket-ask.ts
 * says. Log lines carry counts and states, never a JID.
 */
import { type BaileysEventMap, isLidUser, isPnUser, jidNormalizedUser } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { type ChatState, PresenceState, ProtocolError, type ReadReceiptKey, type Result } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import { askOpenSocket } from "./socket-ask.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";

export class ChatSignals {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "messages.read": ({ keys }) => this.read(keys),
    "presence.send": ({ jid, state }) => this.showPresence(jid, state),
    "presence.subscribe": ({ jids, online }) => this.subscribe(jids, online),
  };
  #sockets: Sockets;
  #link: EdgeLink;
  #logger: Logger;

  constructor(opts: { sockets: Sockets; link: EdgeLink; logger: Logger }) {
    this.#sockets = opts.sockets;
    this.#link = opts.link;
    this.#logger = opts.logger;
  }

  /** A new socket: what it hears of the people it subscribes to goes to the edge. */
  attach(sock: SocketLike): void {
    sock.ev.on("presence.update", (update) => {
      // A socket let go of (reconnect, lease lost) speaks for the number no more.
      if (this.#sockets.current() === sock) this.#heard(update);
    });
  }

  /** Blue ticks: one receipt node per chat (and participant, in groups), as Baileys groups them. */
  async read(keys: ReadReceiptKey[]): Promise<Result<"messages.read">> {
    const waKeys = keys.map((k) => ({ remoteJid: k.chat_jid, id: k.wa_message_id, fromMe: false, ...(k.participant ? { participant: k.participant } : {}) }));
    await askOpenSocket(this.#sockets, this.#logger, {
      name: "read receipts",
      failed: "read receipts not sent",
      log: { receipts: keys.length },
      error: (err) => new ProtocolError("read_failed", errorText(err)),
      ask: (sock) => sock.readMessages(waKeys),
    });
    this.#logger.info({ receipts: keys.length }, "read receipts sent");
    return { read: keys.length };
  }

  /** "typing...", "recording audio..." or neither, in one chat. */
  async showPresence(jid: string, state: ChatState): Promise<Result<"presence.send">> {
    await askOpenSocket(this.#sockets, this.#logger, {
      name: "presence",
      failed: "presence not sent",
      log: { state },
      error: (err) => new ProtocolError("presence_failed", errorText(err)),
      ask: (sock) => sock.sendPresenceUpdate(state, jid),
    });
    return {};
  }

  /** Online (or not) first, then one subscription per person. */
  async subscribe(jids: string[], online: boolean): Promise<Result<"presence.subscribe">> {
    await askOpenSocket(this.#sockets, this.#logger, {
      name: "presence subscription",
      failed: "presence subscriptions not made",
      log: { chats: jids.length, online },
      error: (err) => new ProtocolError("presence_failed", errorText(err)),
      ask: async (sock) => {
        await sock.sendPresenceUpdate(online ? "available" : "unavailable");
        for (const jid of jids) await sock.presenceSubscribe(jid);
      },
    });
    this.#logger.info({ chats: jids.length, online }, "presence subscriptions made");
    return { subscribed: jids.length };
  }

  /** People's presence, one event each; groups' (participants typing in them) are not asked for here and are left out. */
  #heard({ id, presences }: BaileysEventMap["presence.update"]): void {
    const chat = jidNormalizedUser(id);
    if (!isPnUser(chat) && !isLidUser(chat)) return;
    for (const [participant, presence] of Object.entries(presences)) {
      const state = PresenceState.safeParse(presence.lastKnownPresence);
      if (!state.success) continue;
      try {
        this.#link.emit("presence.update", {
          jid: jidNormalizedUser(participant),
          chat_jid: chat,
          state: state.data,
          last_seen: typeof presence.lastSeen === "number" ? presence.lastSeen : null,
        });
      } catch (err) {
        this.#logger.warn({ err: errorText(err) }, "presence update not sent");
      }
    }
  }
}

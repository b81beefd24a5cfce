/**
 * A stand-in for a Baileys socket, for the connection manager's reactions to
 * things the loopback WhatsApp peer cannot produce (QR pairing, bans, 440,
 * 515, 405). Tests drive it by emitting `connection.update` as Baileys would.
 */
import { EventEmitter } from "node:events";
import type { ConnectionState, Contact, UserFacingSocketConfig } from "@whiskeysockets/baileys";
import type { MakeSocket, SocketLike } from "../../fleet/connection.ts";

export class FakeSocket implements SocketLike {
  ev = new EventEmitter();
  config: UserFacingSocketConfig;
  ended = false;
  loggedOut = false;
  pairingRequests: string[] = [];

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

/**
 * What a number asks WhatsApp for the edge, on its open socket: which phones
 * are on WhatsApp (`contacts.resolve`), changes to its block list
 * (`contacts.block`), and its groups (`groups.list`, `groups.get`).
 *
 * Each is one round trip, asked the same way (socket-ask.ts). What the
 * questions and answers look like is in phone-lookup.ts and whatsapp-groups.ts.
 */
import { type GroupMetadata, isLidUser, isPnUser, jidNormalizedUser } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { ProtocolError, type Result } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import { errorText } from "./errors.ts";
import { phoneLookupQuery, resolvedContacts } from "./phone-lookup.ts";
import { type Ask, askOpenSocket } from "./socket-ask.ts";
import type { Sockets } from "./wa-socket.ts";
import { groupError, wireGroup } from "./whatsapp-groups.ts";

export class WhatsAppQueries {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "contacts.resolve": ({ phones }) => this.resolveContacts(phones),
    "contacts.block": ({ jid, action }) => this.updateBlock(jid, action),
    "groups.list": () => this.listGroups(),
    "groups.get": ({ jid }) => this.getGroup(jid),
  };
  #sockets: Sockets;
  #logger: Logger;

  constructor(opts: { sockets: Sockets; logger: Logger }) {
    this.#sockets = opts.sockets;
    this.#logger = opts.logger;
  }

  /** Which of these numbers (digits with country code) are on WhatsApp, in one query. */
  async resolveContacts(phones: string[]): Promise<Result<"contacts.resolve">> {
    const answer = await this.#ask({
      name: "lookup",
      failed: "contact lookup failed",
      log: { phones: phones.length },
      error: (err) => new ProtocolError("resolve_failed", errorText(err)),
      ask: (sock) => sock.executeUSyncQuery(phoneLookupQuery(phones)),
    });
    if (!answer) throw new ProtocolError("resolve_failed", "WhatsApp did not answer the lookup");
    const results = resolvedContacts(phones, answer);
    this.#logger.info({ phones: phones.length, on_whatsapp: results.filter((r) => r.exists).length }, "contacts resolved");
    return { results };
  }

  /** Blocks or unblocks a user on WhatsApp (this number's own block list). */
  async updateBlock(jid: string, action: "block" | "unblock"): Promise<Result<"contacts.block">> {
    const target = jidNormalizedUser(jid);
    // Only people can be blocked: a phone JID or a LID, not a group or a channel.
    if (!isPnUser(target) && !isLidUser(target)) throw new ProtocolError("invalid_jid", `${target} is not a WhatsApp user's JID`);
    await this.#ask({
      name: action,
      failed: "block list not changed",
      log: { action },
      error: blockError,
      ask: (sock) => sock.updateBlockStatus(target, action),
    });
    this.#logger.info({ action }, "block list changed");
    return { jid: target, blocked: action === "block" };
  }

  /** The groups this number is in, with their participants, by subject. */
  async listGroups(): Promise<Result<"groups.list">> {
    const all: Record<string, GroupMetadata> = await this.#ask({
      name: "group list",
      failed: "group list failed",
      error: (err) => groupError(err),
      ask: (sock) => sock.groupFetchAllParticipating(),
    });
    const groups = Object.values(all).map(wireGroup);
    groups.sort((a, b) => a.subject.localeCompare(b.subject) || a.jid.localeCompare(b.jid));
    return { groups };
  }

  async getGroup(jid: string): Promise<Result<"groups.get">> {
    const group = await this.#ask({
      name: "group metadata",
      failed: "group metadata failed",
      error: (err) => groupError(err, jid),
      ask: async (sock) => wireGroup(await sock.groupMetadata(jid)),
    });
    return { group };
  }

  #ask<T>(query: Ask<T>): Promise<T> {
    return askOpenSocket(this.#sockets, this.#logger, query);
  }
}

/**
 * A failed block or unblock. WhatsApp's block list is keyed by LID (and a
 * block also names the phone), so Baileys looks up whichever it lacks and
 * fails with a 400 when WhatsApp cannot name that user.
 */
function blockError(err: unknown): ProtocolError {
  const message = errorText(err);
  if (/unable to resolve (lid|pn)/i.test(message)) return new ProtocolError("not_on_whatsapp", message);
  if (/invalid jid/i.test(message)) return new ProtocolError("invalid_jid", message);
  return new ProtocolError("block_failed", message);
}

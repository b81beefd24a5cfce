/**
 * Administering WhatsApp groups through a number (`groups.create`,
 * `groups.update`, `groups.participants`, `groups.invite`, `groups.join`,
 * `groups.leave`), and what the number hears of its groups changing
 * (Baileys' `groups.update` and `group-participants.update`), which goes to
 * the edge as `group.updated` and `group.participants` events.
 *
 * Thin around Baileys' group functions (Socket/groups.ts), each asked as
 * socket-ask.ts says. Admin actions read the group's metadata first: a
 * number that is not in the group is `not_group_member` and one that is not
 * an admin `not_group_admin`, before WhatsApp is asked to change anything.
 * Log lines carry counts and actions, never a JID.
 */
import { type BaileysEventMap, type GroupParticipant as BaileysParticipant, isLidUser, isPnUser, jidNormalizedUser } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import {
  type EventData,
  type GroupChanges,
  type GroupParticipantsChanged,
  type ParticipantAction,
  type ParticipantOutcome,
  ProtocolError,
  type Result,
  type WhatsAppGroup,
} from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import { askOpenSocket } from "./socket-ask.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";
import { groupError, whatsAppCode, wireGroup } from "./whatsapp-groups.ts";

/** WhatsApp's status for one person of a participants change, as the API's stable codes. */
const OUTCOMES: Record<number, ParticipantOutcome> = {
  200: "ok",
  403: "privacy_restricted",
  404: "not_found",
  408: "recently_left",
  409: "already_member",
};

const PAST: Record<string, GroupParticipantsChanged["action"] | undefined> = {
  add: "added",
  remove: "removed",
  promote: "promoted",
  demote: "demoted",
};

export class GroupAdmin {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "groups.create": ({ subject, participants }) => this.create(subject, participants),
    "groups.update": ({ jid, changes }) => this.update(jid, changes),
    "groups.participants": ({ jid, action, participants }) => this.participants(jid, action, participants),
    "groups.invite": ({ jid, revoke }) => this.invite(jid, revoke),
    "groups.join": ({ code }) => this.join(code),
    "groups.leave": ({ jid }) => this.leave(jid),
  };
  #sockets: Sockets;
  #link: EdgeLink;
  #logger: Logger;

  constructor(opts: { sockets: Sockets; link: EdgeLink; logger: Logger }) {
    this.#sockets = opts.sockets;
    this.#link = opts.link;
    this.#logger = opts.logger;
  }

  /** A new socket: changes to the number's groups go to the edge. */
  attach(sock: SocketLike): void {
    sock.ev.on("groups.update", (updates) => {
      if (this.#sockets.current() === sock) for (const update of updates) this.#groupUpdated(update);
    });
    sock.ev.on("group-participants.update", (update) => {
      if (this.#sockets.current() === sock) this.#participantsChanged(update);
    });
  }

  async create(subject: string, participants: string[]): Promise<Result<"groups.create">> {
    const group = await this.#ask("create", { participants: participants.length }, (err) => groupError(err), async (sock) =>
      wireGroup(await sock.groupCreate(subject, participants.map((jid) => jidNormalizedUser(jid)))),
    );
    this.#logger.info({ participants: group.participants.length }, "group created");
    return { group };
  }

  /** Each change is its own query, as WhatsApp takes them; the group is read again after. */
  async update(jid: string, changes: GroupChanges): Promise<Result<"groups.update">> {
    await this.#asAdmin(jid);
    const fields = Object.keys(changes);
    const group = await this.#ask("update", { fields }, (err) => adminError(err, jid), async (sock) => {
      if (changes.subject !== undefined) await sock.groupUpdateSubject(jid, changes.subject);
      if (changes.description !== undefined) await sock.groupUpdateDescription(jid, changes.description ?? undefined);
      if (changes.announce !== undefined) await sock.groupSettingUpdate(jid, changes.announce ? "announcement" : "not_announcement");
      if (changes.restrict !== undefined) await sock.groupSettingUpdate(jid, changes.restrict ? "locked" : "unlocked");
      return wireGroup(await sock.groupMetadata(jid));
    });
    return { group };
  }

  async participants(jid: string, action: ParticipantAction, people: string[]): Promise<Result<"groups.participants">> {
    await this.#asAdmin(jid);
    const answers = await this.#ask("participants", { action, participants: people.length }, (err) => adminError(err, jid), (sock) =>
      sock.groupParticipantsUpdate(jid, people.map((p) => jidNormalizedUser(p)), action),
    );
    const results = answers.map(({ status, jid: who, content }) => {
      const code = Number(status);
      const phone = content?.attrs?.phone_number;
      return {
        jid: jidNormalizedUser(isPnUser(phone) ? phone : (who ?? "")),
        outcome: OUTCOMES[code] ?? "refused",
        status: Number.isInteger(code) ? code : 500,
      };
    });
    this.#logger.info({ action, participants: people.length, done: results.filter((r) => r.outcome === "ok").length }, "group participants changed");
    return { results };
  }

  async invite(jid: string, revoke: boolean): Promise<Result<"groups.invite">> {
    await this.#asAdmin(jid);
    const code = await this.#ask("invite", { revoke }, (err) => adminError(err, jid), (sock) =>
      revoke ? sock.groupRevokeInvite(jid) : sock.groupInviteCode(jid),
    );
    if (!code) throw new ProtocolError("groups_failed", "WhatsApp answered no invite code");
    return { code };
  }

  async join(code: string): Promise<Result<"groups.join">> {
    const jid = await this.#ask("join", {}, inviteError, (sock) => sock.groupAcceptInvite(code));
    if (!jid) throw new ProtocolError("groups_failed", "WhatsApp answered no group for the invite");
    this.#logger.info("group joined by invite");
    return { jid: jidNormalizedUser(jid) };
  }

  async leave(jid: string): Promise<Result<"groups.leave">> {
    await this.#asMember(jid);
    await this.#ask("leave", {}, (err) => groupError(err, jid), (sock) => sock.groupLeave(jid));
    this.#logger.info("group left");
    return {};
  }

  /** The group as this number sees it, or `not_group_member` / `group_not_found`. */
  async #asMember(jid: string): Promise<{ group: WhatsAppGroup; me: WhatsAppGroup["participants"][number] }> {
    const { group, me } = await this.#ask("group metadata", {}, (err) => memberError(err, jid), async (sock) => {
      const group = wireGroup(await sock.groupMetadata(jid));
      return { group, me: findMe(group, sock) };
    });
    if (!me) throw new ProtocolError("not_group_member", `this number is not in the group ${jid}`);
    return { group, me };
  }

  async #asAdmin(jid: string): Promise<void> {
    const { me } = await this.#asMember(jid);
    if (!me.admin) throw new ProtocolError("not_group_admin", `this number is not an admin of the group ${jid}`);
  }

  #ask<T>(name: string, log: Record<string, unknown>, error: (err: unknown) => ProtocolError, ask: (sock: SocketLike) => Promise<T>): Promise<T> {
    return askOpenSocket(this.#sockets, this.#logger, { name: `group ${name}`, failed: `group ${name} failed`, log, error, ask });
  }

  #groupUpdated(update: BaileysEventMap["groups.update"][number]): void {
    if (!update.id) return;
    // Changes carry who made them; whole groups (Baileys re-emits every group it fetches) do not, and are no news.
    if (!("author" in update)) return;
    const changes: GroupChanges = {};
    if (typeof update.subject === "string") changes.subject = update.subject;
    if ("desc" in update) changes.description = update.desc || null;
    if (typeof update.announce === "boolean") changes.announce = update.announce;
    if (typeof update.restrict === "boolean") changes.restrict = update.restrict;
    if (Object.keys(changes).length === 0) return;
    this.#emit("group.updated", { jid: update.id, ...changes, by: actor(update.author, update.authorPn) });
  }

  #participantsChanged(update: BaileysEventMap["group-participants.update"]): void {
    const action = PAST[update.action];
    const participants = update.participants.map(personOf).filter((jid): jid is string => jid !== null);
    if (!action || participants.length === 0) return;
    this.#emit("group.participants", { jid: update.id, action, participants, by: actor(update.author, update.authorPn) });
  }

  #emit<E extends "group.updated" | "group.participants">(event: E, data: EventData<E>): void {
    try {
      this.#link.emit(event, data);
    } catch (err) {
      this.#logger.warn({ event, err: errorText(err) }, "group event not sent");
    }
  }
}

/** This number among the group's participants, by phone JID or LID. */
function findMe(group: WhatsAppGroup, sock: SocketLike) {
  const mine = [sock.user?.id, sock.user?.lid].filter((jid): jid is string => Boolean(jid)).map(jidNormalizedUser);
  return group.participants.find((p) => mine.includes(p.jid) || (p.lid !== null && mine.includes(p.lid))) ?? null;
}

/** Who did it: by phone JID when WhatsApp gave it, else as it named them. */
function actor(author: string | undefined, authorPn: string | undefined): string | null {
  if (isPnUser(authorPn)) return jidNormalizedUser(authorPn);
  return author ? jidNormalizedUser(author) : null;
}

function personOf(p: BaileysParticipant | string): string | null {
  if (typeof p === "string") return jidNormalizedUser(p);
  const pn = [p.phoneNumber, p.id].find((jid) => isPnUser(jid));
  const any = pn ?? p.id ?? p.lid;
  return any ? jidNormalizedUser(any) : null;
}

/** Reading the group before an action: WhatsApp hides a group from a number that is not in it. */
function memberError(err: unknown, jid: string): ProtocolError {
  const code = whatsAppCode(err);
  if (code === 401 || code === 403) return new ProtocolError("not_group_member", `this number is not in the group ${jid}`);
  return groupError(err, jid);
}

/** An admin action WhatsApp refused: membership was checked, so 401/403 is a missing admin right (it may have changed meanwhile). */
function adminError(err: unknown, jid: string): ProtocolError {
  const code = whatsAppCode(err);
  if (code === 401 || code === 403) return new ProtocolError("not_group_admin", `WhatsApp refused: this number is not an admin of the group ${jid}`);
  return groupError(err, jid);
}

function inviteError(err: unknown): ProtocolError {
  const code = whatsAppCode(err);
  if (code === 400 || code === 404 || code === 406 || code === 410) return new ProtocolError("invite_invalid", "the invite is not valid (revoked, expired or mistyped)");
  if (code === 419) return new ProtocolError("group_full", "the group is full");
  if (code === 401 || code === 403) return new ProtocolError("invite_refused", "WhatsApp does not let this number join (it was removed from the group)");
  return groupError(err);
}

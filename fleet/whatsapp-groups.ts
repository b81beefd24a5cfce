/**
 * WhatsApp groups (chat rooms, not the CRM's contact groups) as the edge
 * sees them: Baileys' group metadata translated to the wire shape, and
 * Baileys' errors for group queries turned into codes the API can answer
 * with. The queries themselves are in whatsapp-queries.ts.
 *
 * Baileys names a participant by LID or by phone JID depending on the
 * group's addressing mode, with the other one beside it when WhatsApp sent
 * it. The wire names each person the way the rest of Pombo does: by phone
 * JID when the phone is known, else by LID.
 */
import {
  type GroupMetadata,
  type GroupParticipant as BaileysParticipant,
  isLidUser,
  isPnUser,
  jidNormalizedUser,
} from "@whiskeysockets/baileys";
import { phoneFromJid } from "../shared/jid.ts";
import { type GroupParticipant, ProtocolError, type WhatsAppGroup } from "../shared/protocol.ts";
import { errorText } from "./errors.ts";

export function wireGroup(meta: GroupMetadata): WhatsAppGroup {
  const participants = (meta.participants ?? []).map(wireParticipant);
  const owner = [meta.ownerPn, meta.owner].find((jid) => isPnUser(jid) || isLidUser(jid));
  return {
    jid: meta.id,
    subject: meta.subject ?? "",
    description: meta.desc || null,
    owner: owner ? jidNormalizedUser(owner) : null,
    created_at: meta.creation && meta.creation > 0 ? new Date(meta.creation * 1000).toISOString() : null,
    size: Number.isInteger(meta.size) ? meta.size! : participants.length,
    participants,
    announce: meta.announce === true,
    restrict: meta.restrict === true,
  };
}

function wireParticipant(p: BaileysParticipant): GroupParticipant {
  const ids = [p.id, p.phoneNumber, p.lid].filter((jid): jid is string => Boolean(jid)).map(jidNormalizedUser);
  const pn = ids.find((jid) => isPnUser(jid)) ?? null;
  const lid = ids.find((jid) => isLidUser(jid)) ?? null;
  return {
    jid: pn ?? lid ?? ids[0] ?? p.id,
    phone: phoneFromJid(pn),
    lid,
    admin: p.admin === "admin" || p.admin === "superadmin" ? p.admin : null,
  };
}

/**
 * The error code WhatsApp put on a failed query. Baileys carries it two ways:
 * `assertNodeErrorFree` puts it in `data` (its status stays 500), group
 * metadata parsing in `output.statusCode`.
 */
export function whatsAppCode(err: unknown): number | null {
  const boom = err as { isBoom?: boolean; data?: unknown; output?: { statusCode?: number } } | null;
  if (!boom?.isBoom) return null;
  if (typeof boom.data === "number") return boom.data;
  return boom.output?.statusCode ?? null;
}

/** A failed group query, the socket still up: gone or not ours (404), or anything else. */
export function groupError(err: unknown, jid?: string): ProtocolError {
  const code = whatsAppCode(err);
  if (jid && code === 404) return new ProtocolError("group_not_found", `WhatsApp has no group ${jid}`);
  // WhatsApp hides a group from a number that is not in it.
  if (jid && (code === 403 || code === 401)) return new ProtocolError("group_not_found", `this number is not in the group ${jid}`);
  return new ProtocolError("groups_failed", errorText(err));
}

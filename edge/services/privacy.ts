/**
 * Privacy (reference 001, LGPD): opt-out, manual block, opt-in, the
 * project's suppression list, keyword opt-out, and refusing sends to anyone
 * on it.
 *
 * The suppression list is the authority for sends: a number on it gets
 * nothing, whatever its contact says. The contact's status follows the list
 * so people see why: adding a number that has a contact moves the contact to
 * `opted_out` (reason `optout`), `unreachable` (`bounce`) or `blocked`
 * (anything else); removing it brings an opted-out or blocked contact back to
 * `active`. A contact known by LID alone has no phone to list: its status
 * alone holds its opt-out, and sends check it too.
 *
 * A send to any of them is refused: `recipient_opted_out` for an opt-out,
 * `recipient_suppressed` for everything else on the list or blocked here
 * (`recipient_blocked` is not ours: it would say WhatsApp blocked them).
 * The client's words for why (`reason` on the contact routes, `note` on
 * the list) are kept on the entry and in the timeline.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { phoneFromJid } from "../../shared/jid.ts";
import { phoneVariants } from "../../shared/phone.ts";
import { db } from "../db/client.ts";
import { findContacts, setContactStatus } from "../db/contacts.ts";
import { insertContactEvents } from "../db/contact-events.ts";
import { pnForLid } from "../db/lid-map.ts";
import { paged } from "../db/pagination.ts";
import type { ContactRow, MessageRow, SuppressionRow } from "../db/schema.ts";
import { deleteSuppressions, findSuppressions, listSuppressions, upsertSuppression } from "../db/suppressions.ts";
import type { SuppressionSource } from "../enums.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { type ContactView, contactViewOf } from "./contact-view.ts";
import { isGroup, isLid } from "./contacts.ts";
import { projectPhone } from "./phone-input.ts";
import type { Addressee } from "./recipients.ts";
import { getSettings } from "./settings.ts";
import { type Actor, contactEvent, contactOrThrow } from "./timeline.ts";

/** Where a suppression came from (reference 001). */
export type { SuppressionSource };
type Status = ContactRow["status"];

/** The status a suppression with this reason gives its contact. */
export const statusFor = (reason: string): Status => (reason === "optout" ? "opted_out" : reason === "bounce" ? "unreachable" : "blocked");

const entryView = (row: SuppressionRow) => ({
  phone: row.phone,
  reason: row.reason,
  note: row.note,
  source: row.source as SuppressionSource,
  created_at: row.created_at,
});

type Suppress = { reason: string; source: SuppressionSource; actor: Actor; note?: string; extra?: Record<string, unknown> };

/**
 * Puts a phone (and its contact, if any) on the suppression list. The entry
 * keeps the form of the phone already listed, else the contact's, else the
 * one given; a listed phone takes the new reason (the latest decision is the
 * one on record; the timeline keeps them all). Nothing is written when it is
 * already so.
 */
async function suppress(env: Env, projectId: string, target: { contact?: ContactRow; phone: string | null }, how: Suppress) {
  const d1 = db(env.DB);
  const phones = target.phone ? phoneVariants(target.phone) : [];
  const [listed] = await findSuppressions(d1, projectId, phones);
  const phone = listed?.phone ?? target.contact?.phone ?? target.phone;
  const status = statusFor(how.reason);
  const contact = target.contact;
  const statements: BatchItem<"sqlite">[] = [];
  const newNote = how.note !== undefined && how.note !== listed?.note;
  if (phone && (listed?.reason !== how.reason || newNote)) {
    statements.push(upsertSuppression(d1, { project_id: projectId, phone, reason: how.reason, source: how.source, note: how.note ?? null }));
  }
  if (contact && (statements.length > 0 || contact.status !== status || newNote)) {
    const at = new Date().toISOString();
    const type = how.reason === "optout" ? "opted_out" : "suppressed";
    const note = how.note === undefined ? {} : { note: how.note };
    const events = [contactEvent(projectId, contact.id, type, how.actor, { reason: how.reason, source: how.source, ...note, ...how.extra }, at)];
    if (contact.status !== status) {
      events.push(contactEvent(projectId, contact.id, "status_changed", how.actor, { from: contact.status, to: status }, at));
      // An opt-out keeps the time of the first one.
      const optedOutAt = status === "opted_out" ? (contact.opted_out_at ?? at) : contact.opted_out_at;
      statements.push(setContactStatus(d1, projectId, contact.id, { status, opted_out_at: optedOutAt }));
    }
    statements.push(insertContactEvents(d1, events));
  }
  const [first, ...rest] = statements;
  if (first) await d1.batch([first, ...rest]);
}

/** Takes a phone (every form of it) off the list and, when a contact is named, makes it `active` again. */
async function release(env: Env, projectId: string, target: { contact?: ContactRow; phone: string | null }, actor: Actor) {
  const d1 = db(env.DB);
  const phones = target.phone ? phoneVariants(target.phone) : [];
  const statements: BatchItem<"sqlite">[] = [];
  if (phones.length > 0) statements.push(deleteSuppressions(d1, projectId, phones));
  const contact = target.contact;
  if (contact && contact.status !== "active") {
    const at = new Date().toISOString();
    statements.push(
      setContactStatus(d1, projectId, contact.id, { status: "active", opted_out_at: null }),
      insertContactEvents(d1, [
        contactEvent(projectId, contact.id, "opted_in", actor, {}, at),
        contactEvent(projectId, contact.id, "status_changed", actor, { from: contact.status, to: "active" }, at),
      ]),
    );
  }
  const [first, ...rest] = statements;
  if (!first) return [];
  const [removed] = await d1.batch([first, ...rest]);
  return phones.length > 0 ? (removed as { phone: string }[]) : [];
}

// ------------------------------------------------------------ a contact's actions

export type ContactAction = "optout" | "suppress" | "optin";

/**
 * POST /contacts/{id}/optout | suppress | optin, by a client; answers with
 * the contact as it is now. `note`: the body's `reason`, the client's words.
 */
export async function contactPrivacy(env: Env, projectId: string, contactId: string, action: ContactAction, note?: string): Promise<ContactView> {
  const contact = await contactOrThrow(env, projectId, contactId);
  const target = { contact, phone: contact.phone };
  if (action === "optin") await release(env, projectId, target, "api");
  else await suppress(env, projectId, target, { reason: action === "optout" ? "optout" : "manual", source: "api", actor: "api", note });
  return contactViewOf(db(env.DB), projectId, await contactOrThrow(env, projectId, contactId));
}

// ------------------------------------------------------------ the suppression list

/** The contact holding this phone in either Brazilian form. */
async function contactOfPhone(env: Env, projectId: string, phone: string) {
  const phones = phoneVariants(phone);
  const rows = await findContacts(db(env.DB), projectId, phones, []);
  return rows.find((r) => r.phone !== null && phones.includes(r.phone));
}

export async function suppressionsPage(env: Env, projectId: string, page: { limit: number; offset: number }) {
  const { rows, total } = await listSuppressions(db(env.DB), projectId, page);
  return paged(rows.map(entryView), total, page);
}

/** POST /suppressions: `created` is false when the phone was already listed (its reason and note are updated). */
export async function addSuppression(env: Env, projectId: string, input: { phone: string; reason: string; note?: string }) {
  const phone = await projectPhone(env, projectId, input.phone, "phone");
  const d1 = db(env.DB);
  const before = await findSuppressions(d1, projectId, phoneVariants(phone));
  const contact = await contactOfPhone(env, projectId, phone);
  await suppress(env, projectId, { contact, phone }, { reason: input.reason, source: "api", actor: "api", note: input.note });
  const [entry] = await findSuppressions(d1, projectId, phoneVariants(phone));
  return { entry: entryView(entry!), created: before.length === 0 };
}

/** DELETE /suppressions?phone=: either Brazilian form removes the entry. */
export async function removeSuppression(env: Env, projectId: string, input: string): Promise<void> {
  const phone = await projectPhone(env, projectId, input, "phone");
  const contact = await contactOfPhone(env, projectId, phone);
  const removed = await release(env, projectId, { contact, phone }, "api");
  if (removed.length === 0) throw notFound("suppression");
}

// ------------------------------------------------------------ keyword opt-out

/** Trimmed, lowercase, accents off: "Cancelár " and "CANCELAR" are one word. */
export const foldWord = (text: string) => text.trim().normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

/**
 * A received text that is nothing but one of the project's opt-out words
 * opts its contact out: suppression reason `optout`, source `contact`.
 * Safe to repeat (a resent message, a second STOP).
 */
export async function keywordOptOut(env: Env, projectId: string, contact: ContactRow, message: MessageRow): Promise<boolean> {
  const body = (message.content as { body?: unknown }).body;
  if (message.type !== "text" || typeof body !== "string" || body.length > 200) return false;
  const word = foldWord(body);
  if (!word) return false;
  const { optout_keywords } = await getSettings(env, projectId);
  if (!optout_keywords.some((k) => foldWord(k) === word)) return false;
  await suppress(env, projectId, { contact, phone: contact.phone }, {
    reason: "optout",
    source: "contact",
    actor: "contact",
    extra: { keyword: body.trim(), message_id: message.id },
  });
  return true;
}

// ------------------------------------------------------------ refusing sends

const refusals = {
  recipient_opted_out: "the recipient opted out: nothing is sent to them until they opt in again",
  recipient_suppressed:
    "the recipient is suppressed (on the project's suppression list, or their contact blocked here): nothing is sent to them until POST /contacts/{id}/optin or DELETE /suppressions",
} as const;

/**
 * Refuses (422) a send to an opted-out or suppressed (or blocked) recipient,
 * before anything is queued. `to` in its canonical form (however the client
 * spelled it): a phone (matched in either Brazilian form), a phone JID, or a
 * LID (through its phone when known, and its contact). Group chats are not
 * people: they pass.
 */
export async function assertSendable(env: Env, projectId: string, to: Addressee): Promise<void> {
  const d1 = db(env.DB);
  let phone: string | null = null;
  let lid: string | null = null;
  if (to.jid !== undefined) {
    if (isGroup(to.jid)) return;
    if (isLid(to.jid)) {
      lid = to.jid;
      phone = phoneFromJid(await pnForLid(d1, projectId, to.jid));
    } else {
      phone = phoneFromJid(to.jid);
    }
  } else {
    phone = to.phone;
  }
  const phones = phone ? phoneVariants(phone) : [];
  if (phones.length === 0 && !lid) return;
  // Two primary-key/unique-index lookups, in parallel: the accept path's only cost for this.
  const [contacts, listed] = await Promise.all([
    findContacts(d1, projectId, phones, lid ? [lid] : []),
    findSuppressions(d1, projectId, phones),
  ]);
  const code = refusalOf(contacts.map((c) => c.status), listed.map((s) => s.reason));
  if (code) throw new ApiError(422, code, refusals[code], { field: "to" });
}

function refusalOf(statuses: Status[], reasons: string[]): keyof typeof refusals | null {
  if (statuses.includes("opted_out") || reasons.includes("optout")) return "recipient_opted_out";
  if (statuses.includes("blocked") || reasons.length > 0) return "recipient_suppressed";
  return null;
}

/**
 * Owner of a contact's status and of the project's suppression list (the
 * `suppressions` table): the only module that writes either. Every rule
 * about them is here; privacy.ts, contact-profiles.ts, contact-import.ts and
 * identity.ts's merge call it.
 *
 * The suppression list (reference 001, LGPD) is the authority for sends: a
 * number on it gets nothing, whatever its contact says. The contact's status
 * follows the list so people see why:
 * - putting a number on the list moves its contact to `opted_out` (reason
 *   `optout`), `unreachable` (`bounce`) or `blocked` (anything else);
 * - taking it off brings the contact back to `active`, and nothing else does;
 * - clients move a contact among `active`, `pending_validation` and
 *   `unreachable` themselves, unless it is listed, opted out or blocked
 *   (409 `contact_suppressed`);
 * - a new contact of a listed number starts with the list's status (one
 *   created by a message starts `active`: sends check the list anyway);
 * - when two contacts merge, an opt-out or block of either holds for the
 *   person, and the phone is listed.
 * A contact known by LID alone has no phone to list: its status alone holds
 * its opt-out, and sends check it too. The client's words for why (`reason`
 * on the contact routes, `note` on the list) are kept on the entry and in
 * the timeline.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { phoneVariants } from "./phone.ts";
import { type Db, db } from "../db/client.ts";
import { setContactStatus } from "../db/contact-writes.ts";
import type { ContactRow } from "../db/schema/index.ts";
import { deleteSuppressions, findSuppressions, upsertSuppression } from "../db/suppressions.ts";
import type { ContactStatus, SuppressionSource } from "../enums.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { type Actor, contactEvent, recordContactEvents } from "./contact-events.ts";
import { countOptOut } from "./metrics.ts";

export type { ContactStatus, SuppressionSource };

/** The statuses a client sets directly; the others belong to the suppression list. */
export const SETTABLE_STATUSES = ["active", "pending_validation", "unreachable"] as const satisfies readonly ContactStatus[];

/** The status a suppression with this reason gives its contact. */
export const statusFor = (reason: string): ContactStatus => (reason === "optout" ? "opted_out" : reason === "bounce" ? "unreachable" : "blocked");

/** The reason this phone (in either Brazilian form) is on the list, if it is. */
export async function listedReason(d1: Db, projectId: string, phone: string | null): Promise<string | undefined> {
  if (!phone) return undefined;
  const [entry] = await findSuppressions(d1, projectId, phoneVariants(phone));
  return entry?.reason;
}

/** The status a new contact starts with: a listed phone's, else the one asked for, else `active`. */
export const initialStatus = (listed: string | undefined, asked?: ContactStatus): ContactStatus =>
  listed !== undefined ? statusFor(listed) : (asked ?? "active");

/** 409 `contact_suppressed` when a client may not change this contact's status (it is listed, opted out or blocked); else null. */
export function refusedChange(contact: ContactRow, listed: boolean): ApiError | null {
  if (!listed && contact.status !== "opted_out" && contact.status !== "blocked") return null;
  return new ApiError(409, "contact_suppressed", `the contact is ${contact.status} and on the suppression list: POST /contacts/${contact.id}/optin reactivates it`, {
    field: "status",
  });
}

/** A client's change of status, already allowed (see refusedChange): the write, and its timeline event. */
export function changeStatus(d1: Db, projectId: string, contact: ContactRow, to: ContactStatus, actor: Actor, extra: Record<string, unknown> = {}) {
  return {
    write: setContactStatus(d1, projectId, contact.id, { status: to, opted_out_at: contact.opted_out_at }),
    event: contactEvent(projectId, contact.id, "status_changed", actor, { from: contact.status, to, ...extra }),
  };
}

const barred = (c: ContactRow) => c.status === "opted_out" || c.status === "blocked";

/**
 * What survives a merge (LGPD): an opt-out or block made under `from` holds
 * for the person. The stricter status wins, and the phone goes on the list,
 * which is what sends check. For the merge's batch.
 */
export function mergedStatus(d1: Db, projectId: string, from: ContactRow, into: ContactRow, phone: string | null): BatchItem<"sqlite">[] {
  if (!barred(from)) return [];
  const writes: BatchItem<"sqlite">[] = [];
  if (phone) {
    writes.push(upsertSuppression(d1, { project_id: projectId, phone, reason: from.status === "opted_out" ? "optout" : "manual", source: "system" }));
  }
  if (!barred(into)) writes.push(setContactStatus(d1, projectId, into.id, { status: from.status, opted_out_at: from.opted_out_at }));
  return writes;
}

export type Suppress = { reason: string; source: SuppressionSource; actor: Actor; note?: string; extra?: Record<string, unknown> };
export type Target = { contact?: ContactRow; phone: string | null };

/**
 * Puts a phone (and its contact, if any) on the suppression list. The entry
 * keeps the form of the phone already listed, else the contact's, else the
 * one given; a listed phone takes the new reason (the latest decision is the
 * one on record; the timeline keeps them all). Nothing is written when it is
 * already so.
 */
export async function suppress(env: Env, projectId: string, target: Target, how: Suppress): Promise<void> {
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
    statements.push(recordContactEvents(d1, events));
  }
  // A phone or contact that was not opted out is now: one opt-out, on the number that talks to them.
  const optedOut = how.reason === "optout" && statements.length > 0 && (listed?.reason !== "optout" || (contact && contact.status !== "opted_out"));
  if (optedOut) statements.push(countOptOut(d1, projectId, contact?.instance_id ?? null));
  const [first, ...rest] = statements;
  if (first) await d1.batch([first, ...rest]);
}

/**
 * Takes a phone (every form of it) off the list and, when a contact is
 * named, makes it `active` again. Returns the entries removed.
 */
export async function release(env: Env, projectId: string, target: Target, actor: Actor): Promise<{ phone: string }[]> {
  const d1 = db(env.DB);
  const phones = target.phone ? phoneVariants(target.phone) : [];
  const statements: BatchItem<"sqlite">[] = [];
  if (phones.length > 0) statements.push(deleteSuppressions(d1, projectId, phones));
  const contact = target.contact;
  if (contact && contact.status !== "active") {
    const at = new Date().toISOString();
    statements.push(
      setContactStatus(d1, projectId, contact.id, { status: "active", opted_out_at: null }),
      recordContactEvents(d1, [
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

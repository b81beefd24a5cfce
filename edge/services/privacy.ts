/**
 * Privacy (reference 001, LGPD) as the API offers it: a contact's opt-out,
 * manual block and opt-in, the project's suppression list, keyword opt-out,
 * and refusing sends to anyone on it. The rules, and every write of a
 * contact's status or of the list, are contact-status.ts's.
 *
 * A send to any of them is refused: `recipient_opted_out` for an opt-out,
 * `recipient_suppressed` for everything else on the list or blocked here
 * (`recipient_blocked` is not ours: it would say WhatsApp blocked them).
 */
import { phoneFromJid } from "../../shared/jid.ts";
import { phoneVariants } from "./phone.ts";
import { db } from "../db/client.ts";
import { optedOutBy } from "../db/contact-events.ts";
import { contactStatusesRead, findContacts } from "../db/contacts.ts";
import { pnForLid } from "../db/lid-map.ts";
import { paged } from "../db/pagination.ts";
import { Reads } from "../db/reads.ts";
import type { ContactRow, MessageRow, SuppressionRow } from "../db/schema/index.ts";
import { findSuppressions, listSuppressions, suppressionReasonsRead } from "../db/suppressions.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { type ContactStatus, type SuppressionSource, release, suppress } from "./contact-status.ts";
import { contactOfPhone, contactOrThrow } from "./contact-store.ts";
import { type ContactView, contactViewOf } from "./contact-view.ts";
import { isGroup, isLid } from "./jids.ts";
import { projectPhone } from "./phone-input.ts";
import type { Addressee } from "./recipients.ts";
import { getSettings } from "./settings.ts";

const entryView = (row: SuppressionRow) => ({
  phone: row.phone,
  reason: row.reason,
  note: row.note,
  source: row.source,
  created_at: row.created_at,
});

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
  return contactViewOf(env, projectId, await contactOrThrow(env, projectId, contactId));
}

// ------------------------------------------------------------ the suppression list

export async function suppressionsPage(env: Env, projectId: string, page: { limit: number; offset: number }) {
  const { rows, total } = await listSuppressions(db(env.DB), projectId, page);
  return paged(rows.map(entryView), total, page);
}

/** POST /suppressions: `created` is false when the phone was already listed (its reason and note are updated). */
export async function addSuppression(env: Env, projectId: string, input: { phone: string; reason: string; note?: string }) {
  const phone = await projectPhone(env, projectId, input.phone, "phone");
  const d1 = db(env.DB);
  const before = await findSuppressions(d1, projectId, phoneVariants(phone));
  const contact = await contactOfPhone(d1, projectId, phone);
  await suppress(env, projectId, { contact, phone }, { reason: input.reason, source: "api", actor: "api", note: input.note });
  const [entry] = await findSuppressions(d1, projectId, phoneVariants(phone));
  return { entry: entryView(entry!), created: before.length === 0 };
}

/** DELETE /suppressions?phone=: either Brazilian form removes the entry. */
export async function removeSuppression(env: Env, projectId: string, input: string): Promise<void> {
  const phone = await projectPhone(env, projectId, input, "phone");
  const contact = await contactOfPhone(db(env.DB), projectId, phone);
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
  // A resend of a STOP that already counted (the fleet lost the answer) changes nothing: the customer
  // may have been opted back in since, and only a new message of theirs may opt them out again.
  if (await optedOutBy(db(env.DB), projectId, contact.id, message.id)) return true;
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
  const reads = new Reads();
  const check = await sendableCheck(env, projectId, to, reads);
  await reads.run(env.DB);
  check();
}

/**
 * `assertSendable` in two steps, for a caller that batches its reads: the
 * lookups join `reads` (a contact and the list: primary-key and unique-index
 * lookups; a LID's phone is read first), and the function returned refuses
 * once they ran.
 */
export async function sendableCheck(env: Env, projectId: string, to: Addressee, reads: Reads): Promise<() => void> {
  let phone: string | null = null;
  let lid: string | null = null;
  if (to.jid !== undefined) {
    if (isGroup(to.jid)) return () => {};
    if (isLid(to.jid)) {
      lid = to.jid;
      phone = phoneFromJid(await pnForLid(db(env.DB), projectId, to.jid));
    } else {
      phone = phoneFromJid(to.jid);
    }
  } else {
    phone = to.phone;
  }
  const phones = phone ? phoneVariants(phone) : [];
  if (phones.length === 0 && !lid) return () => {};
  const contacts = reads.add(contactStatusesRead(env.DB, projectId, phones, lid ? [lid] : []));
  const listed = phones.length === 0 ? () => [] : reads.add(suppressionReasonsRead(env.DB, projectId, phones));
  return () => {
    const code = refusalOf(contacts().map((c) => c.status), listed().map((s) => s.reason));
    if (code) throw new ApiError(422, code, refusals[code], { field: "to" });
  };
}

function refusalOf(statuses: ContactStatus[], reasons: string[]): keyof typeof refusals | null {
  if (statuses.includes("opted_out") || reasons.includes("optout")) return "recipient_opted_out";
  if (statuses.includes("blocked") || reasons.length > 0) return "recipient_suppressed";
  return null;
}

/**
 * The people among `jids` (phone JIDs and LIDs) nothing may be sent to, by
 * the same rule as `assertSendable`: a status post leaves them out rather than
 * refusing the whole audience. Two queries, whatever the list's length.
 */
export async function unsendableOf(env: Env, projectId: string, jids: string[]): Promise<Set<string>> {
  const d1 = db(env.DB);
  const lids = jids.filter((jid) => isLid(jid));
  const phonesOf = new Map(
    jids.map((jid) => {
      const phone = phoneFromJid(jid);
      return [jid, phone ? phoneVariants(phone) : []] as const;
    }),
  );
  const phones = [...phonesOf.values()].flat();
  const [contacts, listed] = await Promise.all([findContacts(d1, projectId, phones, lids), findSuppressions(d1, projectId, phones)]);
  const refused = new Set<string>();
  for (const contact of contacts) {
    if (!refusalOf([contact.status], [])) continue;
    if (contact.phone) refused.add(contact.phone);
    if (contact.lid) refused.add(contact.lid);
  }
  for (const entry of listed) refused.add(entry.phone);
  return new Set(jids.filter((jid) => refused.has(jid) || (phonesOf.get(jid) ?? []).some((phone) => refused.has(phone))));
}

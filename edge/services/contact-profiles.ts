/**
 * The contact base as clients edit it (reference 001): create, read,
 * partially update and remove a contact's profile, and list contacts by any
 * combination of filters.
 *
 * One person is one contact: a phone is stored as `+<digits>` and matched in
 * either Brazilian form, so a number that exists in any format is a 409.
 * A contact entered here has no JID until WhatsApp confirms one (its first
 * message in or out, see `contactFor`); from then on its phone is the one
 * WhatsApp talks from and is no longer edited here.
 *
 * Status: clients set `active`, `pending_validation` or `unreachable`;
 * contact-status.ts holds the rules (a listed, opted-out or blocked contact
 * changes status only through the privacy routes) and writes it.
 */
import { z } from "@hono/zod-openapi";
import type { BatchItem } from "drizzle-orm/batch";
import { internationalPhone, phoneVariants } from "./phone.ts";
import { newId } from "../crypto.ts";
import { db } from "../db/client.ts";
import type { Profile } from "../db/contact-writes.ts";
import { type ContactFilter, type ContactSort, listContacts } from "../db/contact-lists.ts";
import { paged } from "../db/pagination.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { forgetAvatar } from "./contact-avatars.ts";
import { recordContactEvents } from "./contact-events.ts";
import { SETTABLE_STATUSES, changeStatus, initialStatus, listedReason, refusedChange } from "./contact-status.ts";
import { type ContactEdit, addContact, contactOfPhone, contactOrThrow, editContact, removeContactRow } from "./contact-store.ts";
import { ADDRESS_FIELDS, type AddressField, CONTACT_STATUSES, type ContactView, addressColumn, contactViewOf, contactViews } from "./contact-view.ts";
import { forgetConversation } from "./conversations.ts";
import { PHONE_RULE, projectPhone } from "./phone-input.ts";
import { EntryKeys, applyKeys, entryKeys } from "./tags-and-contact-groups.ts";

// ------------------------------------------------------------ what clients send

const text = (max: number) => z.string().trim().max(max);

export const AddressInput = z
  .object(Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, text(200).nullable().optional()])) as Record<AddressField, z.ZodOptional<z.ZodNullable<z.ZodString>>>)
  .openapi("ContactAddressInput", { description: "Any of the address parts; on update, only the parts sent change (null clears one)." });

/** The profile fields, each optional; null clears one. */
export const ProfileInput = z.object({
  name: text(200).nullable().optional().openapi({ example: "Vinicius Berni" }),
  // Trimmed and lowercased before the format is checked.
  email: z.string().trim().toLowerCase().max(254).pipe(z.email()).nullable().optional().openapi({ example: "vinicius@example.com", description: "Stored lowercase." }),
  document: text(64).nullable().optional().openapi({
    example: "12345678900",
    description: "CPF and CNPJ are kept as digits (`123.456.789-00` -> `12345678900`); other documents as written.",
  }),
  document_type: text(32).toLowerCase().nullable().optional().openapi({ example: "cpf", description: "cpf, cnpj, passport, ... (stored lowercase)." }),
  address: AddressInput.optional(),
  status: z.enum(SETTABLE_STATUSES).optional().openapi({
    description: "opted_out and blocked are set by POST /contacts/{id}/optout and /suppress, and undone by /optin.",
  }),
});

const PhoneInput = z.string().trim().min(3).max(40).openapi({ example: "+5511999998888", description: `Any common format; stored as \`+<digits>\`. ${PHONE_RULE}` });

export const CreateContactInput = ProfileInput.extend({
  phone: PhoneInput,
  tags: EntryKeys(50).optional().openapi({ description: "Tag keys to link now (unknown keys are created)." }),
  groups: EntryKeys(50).optional().openapi({ description: "Contact-group keys to link now (unknown keys are created)." }),
}).openapi("CreateContact");

export const UpdateContactInput = ProfileInput.extend({ phone: PhoneInput.optional() }).openapi("UpdateContact");

export type CreateContact = z.infer<typeof CreateContactInput>;
export type UpdateContact = z.infer<typeof UpdateContactInput>;

// ------------------------------------------------------------ normalizing

const invalid = (field: string, message: string, code = "invalid_request") => new ApiError(400, code, `${field}: ${message}`, { field });

const blankToNull = (v: string | null | undefined) => (v === undefined ? undefined : v === null || v === "" ? null : v);

/** Brazilian taxpayer numbers: their digits, whatever punctuation they came with. */
const DIGIT_DOCUMENTS: Record<string, number> = { cpf: 11, cnpj: 14 };

/** A document as stored for its type; null when it is not one. */
export function documentOf(document: string, type: string | null): string | null {
  const digits = type ? DIGIT_DOCUMENTS[type] : undefined;
  if (digits === undefined) return document;
  const only = document.replace(/[\s./-]/g, "");
  return new RegExp(`^\\d{${digits}}$`).test(only) ? only : null;
}

/**
 * The columns a profile input sets (only those it names), checked against
 * what the contact has (a new document type applies to the stored document).
 */
export function profileColumns(input: z.infer<typeof ProfileInput>, current?: ContactRow): Partial<Profile> {
  const out: Partial<Profile> = {};
  const name = blankToNull(input.name);
  if (name !== undefined) {
    out.name = name;
    // Cleared: the WhatsApp push name may fill it again.
    out.name_manual = name !== null;
  }
  const email = blankToNull(input.email);
  if (email !== undefined) out.email = email;
  const type = blankToNull(input.document_type);
  if (type !== undefined) out.document_type = type;
  const document = blankToNull(input.document);
  if (document !== undefined) out.document = document;
  // The stored document follows its type (a CPF or CNPJ is its digits), whichever of the two changed.
  const finalDocument = document !== undefined ? document : (current?.document ?? null);
  const finalType = type !== undefined ? type : (current?.document_type ?? null);
  if (finalDocument !== null && (document !== undefined || type !== undefined)) {
    const stored = documentOf(finalDocument, finalType);
    if (stored === null) throw invalid(document !== undefined ? "document" : "document_type", `a ${finalType} has ${DIGIT_DOCUMENTS[finalType!]} digits`);
    out.document = stored;
  }
  for (const field of ADDRESS_FIELDS) {
    const value = blankToNull(input.address?.[field]);
    if (value !== undefined) out[addressColumn(field)] = value;
  }
  if (input.status !== undefined) out.status = input.status;
  return out;
}

// ------------------------------------------------------------ create, read, update, delete

const exists = (contact: ContactRow) =>
  new ApiError(409, "contact_exists", `a contact with this phone exists (${contact.phone})`, { field: "phone", contact_id: contact.id });

export async function createContact(env: Env, projectId: string, input: CreateContact): Promise<ContactView> {
  const phone = await projectPhone(env, projectId, input.phone, "phone");
  const d1 = db(env.DB);
  const holder = await contactOfPhone(d1, projectId, phone);
  if (holder) throw exists(holder);
  const profile = profileColumns(input);
  // A number on the suppression list (say, opted out before its contact was deleted) stays so.
  const status = initialStatus(await listedReason(d1, projectId, phone), profile.status);
  const row = await addContact(d1, { id: newId(), project_id: projectId, phone, source: "api", ...profile, status });
  if (!row) {
    // Created in the meantime (a first message, or a concurrent request).
    const winner = await contactOfPhone(d1, projectId, phone);
    throw winner ? exists(winner) : new ApiError(409, "contact_exists", "a contact with this phone exists", { field: "phone" });
  }
  if (input.tags?.length || input.groups?.length) {
    await applyKeys(env, projectId, row, { tag: { add: input.tags }, group: { add: input.groups } }, "api");
  }
  return contactViewOf(env, projectId, row);
}

export async function getContact(env: Env, projectId: string, id: string): Promise<ContactView> {
  return contactViewOf(env, projectId, await contactOrThrow(env, projectId, id));
}

/**
 * Only the fields sent change; `address` merges part by part. A new phone
 * is checked like a new contact's (409 when another contact has it).
 */
export async function updateContactProfile(env: Env, projectId: string, id: string, input: UpdateContact): Promise<ContactView> {
  const d1 = db(env.DB);
  const contact = await contactOrThrow(env, projectId, id);
  const { status, ...patch }: ContactEdit & Pick<Partial<Profile>, "status"> = profileColumns(input, contact);
  if (input.phone !== undefined) {
    const phone = await projectPhone(env, projectId, input.phone, "phone");
    if (contact.phone === null || !phoneVariants(phone).includes(contact.phone)) {
      if (contact.jid !== null) {
        throw new ApiError(409, "phone_from_whatsapp", "this contact's phone is the WhatsApp number it talks from; create another contact for a new number", {
          field: "phone",
        });
      }
      const holder = await contactOfPhone(d1, projectId, phone, contact.id);
      if (holder) throw exists(holder);
      patch.phone = phone;
    }
  }
  const statements: BatchItem<"sqlite">[] = Object.keys(patch).length > 0 ? [editContact(d1, projectId, id, patch)] : [];
  if (status !== undefined && status !== contact.status) {
    const refused = refusedChange(contact, (await listedReason(d1, projectId, patch.phone ?? contact.phone)) !== undefined);
    if (refused) throw refused;
    const change = changeStatus(d1, projectId, contact, status, "api");
    statements.push(change.write, recordContactEvents(d1, [change.event]));
  }
  const [first, ...rest] = statements;
  if (!first) return contactViewOf(env, projectId, contact);
  try {
    await d1.batch([first, ...rest]);
  } catch (err) {
    // The unique phone index: a first message from that number created its contact meanwhile.
    if (patch.phone && String(err).includes("UNIQUE")) {
      const holder = await contactOfPhone(d1, projectId, patch.phone, id);
      if (holder) throw exists(holder);
    }
    throw err;
  }
  return getContact(env, projectId, id);
}

/**
 * Removes the contact, its tags, groups and timeline events (they cascade)
 * and its conversation. Its messages stay (GET /messages/{id} still finds
 * them), and so does any suppression-list entry for its phone: forgetting a
 * contact must not make an opted-out number messageable again. A later
 * message from the number starts a new contact and conversation. Their
 * stored WhatsApp picture goes with them.
 */
export async function removeContact(env: Env, projectId: string, id: string): Promise<void> {
  const d1 = db(env.DB);
  const contact = await contactOrThrow(env, projectId, id);
  await d1.batch([removeContactRow(d1, projectId, contact.id), ...(await forgetConversation(d1, projectId, contact.id))]);
  await forgetAvatar(env, projectId, contact);
}

// ------------------------------------------------------------ GET /contacts

export type ContactQuery = {
  search?: string;
  tags?: string | string[];
  tags_match: "any" | "all";
  groups?: string | string[];
  status?: string | string[];
  city?: string;
  state?: string;
  country?: string;
  zip?: string;
  document?: string;
  has_email?: "true" | "false";
  instance_id?: string;
  last_activity_after?: string;
  last_activity_before?: string;
  created_after?: string;
  created_before?: string;
  sort: ContactSort;
  limit: number;
  offset: number;
};

/** `a,b` and `x=a&x=b` alike. */
export const listOf = (value: string | string[]) => (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);

const phrase = (text: string) => `"${text.replaceAll('"', '""')}"`;

/**
 * `search` as an FTS5 query over the trigram index: a phone or document
 * typed with punctuation is looked up by its digits (a phone in either
 * Brazilian form); otherwise every word of 3+ characters must appear
 * somewhere in the name, phone, email or document. Shorter words, which
 * trigrams cannot find, are matched with LIKE.
 */
export function searchOf(raw: string): NonNullable<ContactFilter["search"]> {
  const text = raw.trim();
  if (/^[\d\s().+-]+$/.test(text)) {
    const digits = text.replace(/\D/g, "");
    if (digits.length < 3) return { match: null, words: [digits] };
    const phone = digits.length >= 10 ? internationalPhone(`+${digits}`) : null;
    const forms = phone ? [...new Set([digits, ...phoneVariants(phone).map((p) => p.slice(1))])] : [digits];
    return { match: forms.map(phrase).join(" OR "), words: [] };
  }
  const words = text.split(/\s+/).filter(Boolean);
  const long = words.filter((w) => [...w].length >= 3);
  return { match: long.length > 0 ? long.map(phrase).join(" ") : null, words: words.filter((w) => [...w].length < 3) };
}

const iso = (value: string) => new Date(value).toISOString();

export function filterOf(q: ContactQuery): ContactFilter {
  const f: ContactFilter = {};
  if (q.search !== undefined) f.search = searchOf(q.search);
  for (const kind of ["tags", "groups"] as const) {
    const value = q[kind];
    if (value === undefined) continue;
    const keys = entryKeys(listOf(value), kind);
    if (keys.length > 0) f[kind] = { keys, all: kind === "tags" && q.tags_match === "all" };
  }
  if (q.status !== undefined) {
    const statuses = listOf(q.status);
    const bad = statuses.find((s) => !(CONTACT_STATUSES as readonly string[]).includes(s));
    if (bad !== undefined) throw invalid("status", `"${bad}" is not one of ${CONTACT_STATUSES.join(", ")}`);
    if (statuses.length > 0) f.status = statuses as ContactRow["status"][];
  }
  for (const key of ["city", "state", "country", "zip", "instance_id"] as const) if (q[key] !== undefined) f[key] = q[key];
  if (q.document !== undefined) {
    // Either as written or as a CPF/CNPJ is stored (its digits).
    const digits = q.document.replace(/[\s./-]/g, "");
    f.documents = [...new Set([q.document, ...(/^\d+$/.test(digits) ? [digits] : [])])];
  }
  if (q.has_email !== undefined) f.has_email = q.has_email === "true";
  for (const key of ["last_activity_after", "last_activity_before", "created_after", "created_before"] as const) {
    if (q[key] !== undefined) f[key] = iso(q[key]);
  }
  return f;
}

export async function contactsPage(env: Env, projectId: string, q: ContactQuery) {
  const d1 = db(env.DB);
  const page = { limit: q.limit, offset: q.offset };
  const { rows, total } = await listContacts(d1, projectId, filterOf(q), q.sort, page);
  return paged(await contactViews(env, projectId, rows), total, page);
}

/**
 * POST /contacts/import (reference 001, issue 5): up to 10,000 contacts
 * from CSV or JSON, each row checked like POST /contacts, normalized, and
 * deduplicated against the file and the base (a phone in either Brazilian
 * form is one person). New contacts get source `import`. A row whose phone
 * already has a contact updates the fields it fills in and adds its tags
 * and groups (or, with `existing=skip`, leaves the contact alone); a row
 * that would change nothing is skipped. Within the file the first row for a
 * phone wins and later ones are skipped. Rows that fail are reported one by
 * one and the others go in.
 *
 * Storage is written in bulk (a few statements per thousand rows): D1 allows
 * 100 bound parameters per statement, so rows travel as one JSON parameter.
 */
import { z } from "@hono/zod-openapi";
import type { BatchItem } from "drizzle-orm/batch";
import Papa from "papaparse";
import { phoneVariants } from "./phone.ts";
import { newId } from "../crypto.ts";
import { type Db, db } from "../db/client.ts";
import { chunks as parts } from "../db/lists.ts";
import type { NewContact } from "../db/contact-writes.ts";
import { contactKeys, findContacts } from "../db/contacts.ts";
import type { ContactRow } from "../db/schema/index.ts";
import { findSuppressions } from "../db/suppressions.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { type NewContactEvent, recordContactEventsInParts } from "./contact-events.ts";
import { CreateContactInput, profileColumns } from "./contact-profiles.ts";
import { changeStatus, initialStatus, refusedChange } from "./contact-status.ts";
import { addContacts, editContact } from "./contact-store.ts";
import { ADDRESS_FIELDS } from "./contact-view.ts";
import { phoneOf } from "./phone-input.ts";
import { getSettings } from "./settings.ts";
import { type ContactKeys, linkInBulk } from "./tags-and-contact-groups.ts";

export const MAX_IMPORT_ROWS = 10_000;
/** Rows per bulk statement, and per batch of per-contact updates. */
const CHUNK = 500;

const RowError = z.object({
  row: z.number().int().openapi({ description: "1-based position among the data rows (a CSV header is not counted)." }),
  field: z.string().nullable().openapi({ example: "email" }),
  code: z.string().openapi({ example: "invalid_request" }),
  message: z.string(),
});

export const ImportResultSchema = z
  .object({
    created: z.number().int(),
    updated: z.number().int(),
    skipped: z.number().int().openapi({ description: "Repeats of an earlier row's phone, rows that change nothing, and existing contacts under existing=skip." }),
    errors: z.array(RowError),
  })
  .openapi("ContactImportResult");

type ImportResult = z.infer<typeof ImportResultSchema>;
type RowIssue = z.infer<typeof RowError>;

// ------------------------------------------------------------ reading the file

const tooMany = (n: number) =>
  new ApiError(413, "too_many_rows", `an import takes up to ${MAX_IMPORT_ROWS} rows; this one has ${n}`, { field: "contacts", rows: n, max: MAX_IMPORT_ROWS });

/** A CSV header as a field name: `City`, `address_city` and `Address City` are all `city`. */
const headerOf = (h: string) => h.trim().toLowerCase().replace(/\s+/g, "_").replace(/^address_/, "");

function csvRecords(text: string): Record<string, unknown>[] {
  // Papaparse finds the delimiter (`,` or the `;` spreadsheets write in many locales) and drops a BOM.
  const parsed = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: "greedy", transformHeader: headerOf });
  const fields = parsed.meta.fields ?? [];
  if (!fields.includes("phone")) {
    throw new ApiError(400, "invalid_request", "phone: the CSV needs a header row with a phone column", { field: "phone" });
  }
  return parsed.data;
}

/** The uploaded file: its Content-Type header and its text. */
export type ImportFile = { type: string; text: string };

const mediaType = (file: ImportFile) => file.type.split(";")[0]!.trim().toLowerCase();

const ACCEPTED = ["text/csv", "application/json"];

function readRecords(file: ImportFile): Record<string, unknown>[] {
  const type = mediaType(file);
  const text = file.text;
  if (type === "text/csv") return csvRecords(text);
  if (type !== "application/json") {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `Content-Type: send the file as text/csv (a header row, then a contact per row) or application/json, not ${type || "no type"}`,
      { field: "Content-Type", accepted: ACCEPTED },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
  }
  const list = Array.isArray(body) ? body : (body as { contacts?: unknown } | null)?.contacts;
  if (!Array.isArray(list)) {
    throw new ApiError(400, "invalid_request", "contacts: send { contacts: [...] } or an array of contacts", { field: "contacts" });
  }
  return list.map((r) => (r && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, unknown>) : { phone: r }));
}

const splitKeys = (value: unknown) =>
  typeof value === "string" ? value.split(/[;,|]/).map((k) => k.trim()).filter(Boolean) : value;

/** One record as POST /contacts takes it: flat address parts folded into `address`, `;`-separated keys split, blank cells absent. */
function asInput(record: Record<string, unknown>, csv: boolean) {
  const input: Record<string, unknown> = {};
  const address: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(record)) {
    if (csv && (value === "" || value === undefined)) continue;
    const key = headerOf(rawKey);
    if ((ADDRESS_FIELDS as readonly string[]).includes(key)) address[key] = value;
    else if (key === "address" && value && typeof value === "object") Object.assign(address, value);
    else if (key === "tags" || key === "groups") input[key] = splitKeys(value);
    else input[key] = value;
  }
  if (Object.keys(address).length > 0) input.address = address;
  return input;
}

// ------------------------------------------------------------ checking rows

type Candidate = {
  row: number;
  phone: string;
  profile: ReturnType<typeof profileColumns>;
  tags: string[];
  groups: string[];
};

function issueOf(row: number, err: unknown): RowIssue {
  if (err instanceof ApiError) {
    return { row, field: (err.details?.field as string | undefined) ?? null, code: err.code, message: err.message };
  }
  if (err instanceof z.ZodError) {
    const first = err.issues[0]!;
    const field = first.path.join(".") || null;
    return { row, field, code: "invalid_request", message: field ? `${field}: ${first.message}` : first.message };
  }
  throw err;
}

function candidateOf(row: number, record: Record<string, unknown>, csv: boolean, defaultCountry: string | null): Candidate {
  const input = CreateContactInput.parse(asInput(record, csv));
  return { row, phone: phoneOf(input.phone, "phone", defaultCountry), profile: profileColumns(input), tags: input.tags ?? [], groups: input.groups ?? [] };
}

// ------------------------------------------------------------ writing

const chunks = <T>(list: T[]) => parts(list, CHUNK);

async function inChunks<T, R>(list: T[], each: (part: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (const part of chunks(list)) out.push(...(await each(part)));
  return out;
}

async function runBatches(d1: Db, statements: BatchItem<"sqlite">[]) {
  for (const part of chunks(statements)) {
    const [first, ...rest] = part;
    if (first) await d1.batch([first, ...rest]);
  }
}

/** What a row changes on an existing contact: the profile columns that differ. */
function changesOf(contact: ContactRow, profile: Candidate["profile"]) {
  const patch: Candidate["profile"] = {};
  for (const [column, value] of Object.entries(profile) as [keyof Candidate["profile"], never][]) {
    if (contact[column] !== value) patch[column] = value;
  }
  return patch;
}

export async function importContacts(env: Env, projectId: string, file: ImportFile, opts: { existing: "update" | "skip" }): Promise<ImportResult> {
  const csv = mediaType(file) === "text/csv";
  const records = readRecords(file);
  if (records.length > MAX_IMPORT_ROWS) throw tooMany(records.length);
  const result: ImportResult = { created: 0, updated: 0, skipped: 0, errors: [] };

  // Check every row; the first row for a phone (in either form) wins.
  const { default_country } = await getSettings(env, projectId);
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  records.forEach((record, i) => {
    try {
      const candidate = candidateOf(i + 1, record, csv, default_country);
      const forms = phoneVariants(candidate.phone);
      if (forms.some((p) => seen.has(p))) {
        result.skipped++;
        return;
      }
      for (const p of forms) seen.add(p);
      candidates.push(candidate);
    } catch (err) {
      result.errors.push(issueOf(i + 1, err));
    }
  });

  const d1 = db(env.DB);
  const existing = await inChunks(candidates, (part) => findContacts(d1, projectId, part.flatMap((c) => phoneVariants(c.phone)), []));
  const byPhone = new Map(existing.map((c) => [c.phone!, c]));
  const holderOf = (c: Candidate) => phoneVariants(c.phone).map((p) => byPhone.get(p)).find(Boolean);
  const listed = await inChunks(candidates, (part) => findSuppressions(d1, projectId, part.flatMap((c) => phoneVariants(c.phone))));
  const listedReason = new Map(listed.map((s) => [s.phone, s.reason]));
  const reasonOf = (phone: string) => phoneVariants(phone).map((p) => listedReason.get(p)).find((r) => r !== undefined);

  const fresh: { row: NewContact & { id: string }; candidate: Candidate }[] = [];
  const links: ContactKeys[] = [];
  const updates: BatchItem<"sqlite">[] = [];
  const toUpdate: { candidate: Candidate; contact: ContactRow }[] = [];
  for (const candidate of candidates) {
    const contact = holderOf(candidate);
    if (!contact) {
      const status = initialStatus(reasonOf(candidate.phone), candidate.profile.status);
      fresh.push({ row: { id: newId(), project_id: projectId, phone: candidate.phone, source: "import", ...candidate.profile, status }, candidate });
    } else if (opts.existing === "skip") {
      result.skipped++;
    } else {
      toUpdate.push({ candidate, contact });
    }
  }

  // Existing contacts: only what differs, and only the tags and groups they lack.
  const current = await inChunks(toUpdate, async (part) => [await contactKeys(d1, projectId, part.map((u) => u.contact.id))]);
  const has = (kind: "tags" | "groups", id: string, key: string) => current.some((l) => l[kind].get(id)?.includes(key));
  const events: NewContactEvent[] = [];
  for (const { candidate, contact } of toUpdate) {
    const { status, ...patch } = changesOf(contact, candidate.profile);
    if (status !== undefined) {
      const refused = refusedChange(contact, reasonOf(contact.phone ?? candidate.phone) !== undefined);
      if (refused) {
        result.errors.push({ row: candidate.row, field: "status", code: refused.code, message: `status: ${refused.message}` });
        continue;
      }
      const change = changeStatus(d1, projectId, contact, status, "api", { source: "import" });
      updates.push(change.write);
      events.push(change.event);
    }
    const tags = candidate.tags.filter((key) => !has("tags", contact.id, key));
    const groups = candidate.groups.filter((key) => !has("groups", contact.id, key));
    if (Object.keys(patch).length === 0 && status === undefined && tags.length === 0 && groups.length === 0) {
      result.skipped++;
      continue;
    }
    if (Object.keys(patch).length > 0) updates.push(editContact(d1, projectId, contact.id, patch));
    links.push({ contact_id: contact.id, tags, groups });
    result.updated++;
  }

  for (const part of chunks(fresh)) {
    const inserted = new Set(await addContacts(d1, part.map((f) => f.row)));
    result.created += inserted.size;
    // A row whose phone got a contact meanwhile (a first message) is not needed: that contact is the person.
    result.skipped += part.length - inserted.size;
    for (const { row, candidate } of part) {
      if (inserted.has(row.id)) links.push({ contact_id: row.id, tags: candidate.tags, groups: candidate.groups });
    }
  }
  updates.push(...recordContactEventsInParts(d1, events));
  await runBatches(d1, [...updates, ...linkInBulk(d1, projectId, links, { source: "import" })]);
  result.errors.sort((a, b) => a.row - b.row);
  return result;
}


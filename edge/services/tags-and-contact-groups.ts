/**
 * The project's CRM dictionaries (reference 001): tags and contact groups
 * (segments, not WhatsApp groups). Entries are named by a stable key; each
 * shows how many contacts it has now. A contact is linked to entries by key,
 * from the API or by a send's `tags[]`/`groups[]`; unknown keys are created
 * on the spot (named after their key), and every change is in the contact's
 * timeline.
 *
 * Owner of `tags`, `contact_groups`, `contact_tags` and
 * `contact_group_members`: the only module that writes them (an import
 * links its contacts through linkInBulk).
 */
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "@hono/zod-openapi";
import { newId } from "../crypto.ts";
import { type Db, db } from "../db/client.ts";
import { contactKeys } from "../db/contacts.ts";
import { chunks } from "../db/lists.ts";
import {
  type CountedEntry,
  type Dictionary,
  CONTACT_GROUPS,
  TAGS,
  deleteEntry,
  ensureEntries,
  findEntry,
  insertEntry,
  linkEntries,
  listEntries,
  unlinkEntries,
  updateEntry,
} from "../db/tags-and-contact-groups.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { paged } from "../db/pagination.ts";
import { type Actor, type NewContactEvent, contactEvent, recordContactEvents, recordContactEventsInParts } from "./contact-events.ts";
import { contactOrThrow } from "./contact-store.ts";
import { type ContactView, contactViewOf } from "./contact-view.ts";
import { contactFor, identify } from "./identity.ts";
import { isGroup } from "./jids.ts";

export const KEY_PATTERN = /^[a-z0-9_-]{1,64}$/;
const KEY_RULE = "1 to 64 letters, digits, '-' or '_'";

/** Keys are stored lowercase, as emails are: `Hot-Lead` and `hot-lead` are one key wherever a key is taken. */
export const keyOf = (raw: string) => raw.trim().toLowerCase();

export const EntryKey = z
  .string()
  .transform(keyOf)
  .pipe(z.string().regex(KEY_PATTERN, KEY_RULE))
  .openapi({ example: "hot-lead", description: `A stable slug: ${KEY_RULE}; stored lowercase (\`Hot-Lead\` is \`hot-lead\`).` });

/** A list of keys to link: each as stored, a key written twice (in any case) once. */
export const EntryKeys = (max: number) =>
  z
    .array(EntryKey)
    .max(max)
    .transform((keys) => [...new Set(keys)]);
export const Color = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "#rrggbb")
  .transform((c) => c.toLowerCase())
  .openapi({ example: "#22c55e" });

/** `tag`: /tags and a contact's `tags`; `group`: /contact-groups and a contact's `groups`. */
export type EntryKind = "tag" | "group";
const dictionaryOf: Record<EntryKind, Dictionary> = { tag: TAGS, group: CONTACT_GROUPS };
const nameOf: Record<EntryKind, string> = { tag: "tag", group: "contact group" };

export type EntryInput = { key: string; name?: string; color?: string | null };

const view = (row: CountedEntry) => ({
  id: row.id,
  key: row.key,
  name: row.name,
  color: row.color,
  count: row.count,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export async function entriesPage(env: Env, projectId: string, kind: EntryKind, page: { limit: number; offset: number }) {
  const { rows, total } = await listEntries(db(env.DB), dictionaryOf[kind], projectId, page);
  return paged(rows.map(view), total, page);
}

async function entryOrThrow(env: Env, projectId: string, kind: EntryKind, id: string) {
  const row = await findEntry(db(env.DB), dictionaryOf[kind], projectId, id);
  if (!row) throw notFound(nameOf[kind]);
  return view(row);
}

export async function createEntry(env: Env, projectId: string, kind: EntryKind, input: EntryInput) {
  const row = await insertEntry(db(env.DB), dictionaryOf[kind], {
    id: newId(),
    project_id: projectId,
    key: input.key,
    name: input.name ?? input.key,
    color: input.color ?? null,
  });
  if (!row) throw new ApiError(409, "key_exists", `key: this project already has a ${nameOf[kind]} "${input.key}"`, { field: "key" });
  return view({ ...row, count: 0 });
}

export async function changeEntry(env: Env, projectId: string, kind: EntryKind, id: string, patch: { name?: string; color?: string | null }) {
  if (!(await updateEntry(db(env.DB), dictionaryOf[kind], projectId, id, patch))) throw notFound(nameOf[kind]);
  return entryOrThrow(env, projectId, kind, id);
}

/** Gone from the dictionary and from every contact that had it. */
export async function removeEntry(env: Env, projectId: string, kind: EntryKind, id: string): Promise<void> {
  if (!(await deleteEntry(db(env.DB), dictionaryOf[kind], projectId, id))) throw notFound(nameOf[kind]);
}

// ------------------------------------------------------------ a contact's tags and groups

export type Change = { add?: string[]; remove?: string[] };

/** Keys clients send with a message or a filter, as stored (lowercase), each checked, naming the offending one. */
export function entryKeys(keys: string[], field: string): string[] {
  return keys.map((raw, i) => {
    const key = keyOf(raw);
    if (!KEY_PATTERN.test(key)) throw new ApiError(400, "invalid_request", `${field}.${i}: ${KEY_RULE}`, { field: `${field}.${i}` });
    return key;
  });
}

/**
 * The statements (for one batch) that make a contact's keys of one kind
 * `current` + add - remove, creating unknown keys, with one timeline event
 * per key actually added or removed.
 */
function relink(
  d1: Db,
  projectId: string,
  contactId: string,
  kind: EntryKind,
  current: string[],
  change: Change,
  actor: Actor,
  extra: Record<string, unknown>,
): BatchItem<"sqlite">[] {
  const have = new Set(current);
  const added = [...new Set(change.add ?? [])].filter((k) => !have.has(k));
  const removed = [...new Set(change.remove ?? [])].filter((k) => have.has(k));
  const d = dictionaryOf[kind];
  const at = new Date().toISOString();
  const statements: BatchItem<"sqlite">[] = [];
  if (added.length > 0) {
    const entries = added.map((key) => ({ id: newId(), project_id: projectId, key, name: key }));
    statements.push(ensureEntries(d1, d, projectId, entries), linkEntries(d1, d, projectId, contactId, added));
  }
  if (removed.length > 0) statements.push(unlinkEntries(d1, d, projectId, contactId, removed));
  const events = [
    ...added.map((key) => contactEvent(projectId, contactId, `${kind}_added`, actor, { [kind]: key, ...extra }, at)),
    ...removed.map((key) => contactEvent(projectId, contactId, `${kind}_removed`, actor, { [kind]: key, ...extra }, at)),
  ];
  if (events.length > 0) statements.push(recordContactEvents(d1, events));
  return statements;
}

/**
 * Applies tag and group changes to a contact in one batch. `extra` rides on
 * each event (a send names its message).
 */
export async function applyKeys(
  env: Env,
  projectId: string,
  contact: ContactRow,
  changes: Partial<Record<EntryKind, Change>>,
  actor: Actor,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const d1 = db(env.DB);
  const current = await contactKeys(d1, projectId, [contact.id]);
  const statements = [
    ...relink(d1, projectId, contact.id, "tag", current.tags.get(contact.id) ?? [], changes.tag ?? {}, actor, extra),
    ...relink(d1, projectId, contact.id, "group", current.groups.get(contact.id) ?? [], changes.group ?? {}, actor, extra),
  ];
  const [first, ...rest] = statements;
  if (first) await d1.batch([first, ...rest]);
}

/** Tag and contact-group keys to add to one contact. */
export type ContactKeys = { contact_id: string; tags: string[]; groups: string[] };

/** Dictionary entries per statement when a bulk change (an import) creates thousands: each statement stays small. */
const ENTRIES_PER_STATEMENT = 15;

/**
 * Many contacts' new keys (an import), for its batches: unknown keys are
 * created (named after themselves), each contact linked to its keys, and
 * each link added is an event naming `extra`. The keys are ones the
 * contacts do not have yet.
 */
export function linkInBulk(d1: Db, projectId: string, links: ContactKeys[], extra: Record<string, unknown>): BatchItem<"sqlite">[] {
  const statements: BatchItem<"sqlite">[] = [];
  const events: NewContactEvent[] = [];
  const at = new Date().toISOString();
  for (const [kind, field] of [["tag", "tags"], ["group", "groups"]] as const) {
    const d = dictionaryOf[kind];
    const keys = [...new Set(links.flatMap((l) => l[field]))];
    for (const part of chunks(keys, ENTRIES_PER_STATEMENT)) {
      statements.push(ensureEntries(d1, d, projectId, part.map((key) => ({ id: newId(), project_id: projectId, key, name: key }))));
    }
    for (const l of links) {
      if (l[field].length === 0) continue;
      statements.push(linkEntries(d1, d, projectId, l.contact_id, l[field]));
      events.push(...l[field].map((key) => contactEvent(projectId, l.contact_id, `${kind}_added`, "api", { [kind]: key, ...extra }, at)));
    }
  }
  return [...statements, ...recordContactEventsInParts(d1, events)];
}

/** POST /contacts/{id}/tags and /groups: `{ add, remove }`; answers with the contact as it is now. */
export async function changeContactKeys(env: Env, projectId: string, contactId: string, kind: EntryKind, change: Change): Promise<ContactView> {
  const both = (change.add ?? []).filter((k) => change.remove?.includes(k));
  if (both.length > 0) {
    throw new ApiError(400, "invalid_request", `remove: "${both[0]}" is also in add`, { field: "remove" });
  }
  const contact = await contactOrThrow(env, projectId, contactId);
  await applyKeys(env, projectId, contact, { [kind]: change }, "api");
  return contactViewOf(env, projectId, await contactOrThrow(env, projectId, contactId));
}

/**
 * A send's `tags[]` and `groups[]` (reference 001): once the recipient is
 * resolved to its JID, their contact (created if new, source `outbound`)
 * gets them, each event naming the message. Group chats are rooms, not
 * contacts: nothing to stamp.
 */
export async function stampRecipient(
  env: Env,
  projectId: string,
  instanceId: string,
  chatJid: string,
  stamp: { tags?: string[]; groups?: string[]; message_id: string },
): Promise<void> {
  if (isGroup(chatJid)) return;
  const who = await identify(env, projectId, instanceId, [chatJid]);
  const contact = await contactFor(env, projectId, instanceId, who, { source: "outbound", name: null });
  if (!contact) return;
  await applyKeys(env, projectId, contact, { tag: { add: stamp.tags }, group: { add: stamp.groups } }, "api", { message_id: stamp.message_id });
}

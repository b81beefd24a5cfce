/**
 * The project's CRM dictionaries (reference 001): tags and contact groups
 * (segments, not WhatsApp groups). Entries are named by a stable key; each
 * shows how many contacts it has now. A contact is linked to entries by key,
 * from the API or by a send's `tags[]`/`groups[]`; unknown keys are created
 * on the spot (named after their key), and every change is in the contact's
 * timeline.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "@hono/zod-openapi";
import { newId } from "../crypto.ts";
import { type Db, db } from "../db/client.ts";
import { contactLabels } from "../db/contacts.ts";
import { insertContactEvents } from "../db/contact-events.ts";
import {
  type CountedLabel,
  type Dictionary,
  GROUPS,
  TAGS,
  deleteLabel,
  ensureLabels,
  findLabel,
  insertLabel,
  linkLabels,
  listLabels,
  unlinkLabels,
  updateLabel,
} from "../db/tags-and-contact-groups.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { paged } from "../db/pagination.ts";
import { type ContactView, contactViewOf } from "./contact-view.ts";
import { contactFor, identify, isGroup } from "./identity.ts";
import { type Actor, contactEvent, contactOrThrow } from "./timeline.ts";

export const LABEL_KEY = /^[a-z0-9_-]{1,64}$/;
const KEY_RULE = "1 to 64 letters, digits, '-' or '_'";

/** Keys are stored lowercase, as emails are: `Hot-Lead` and `hot-lead` are one key wherever a key is taken. */
export const keyOf = (raw: string) => raw.trim().toLowerCase();

export const LabelKey = z
  .string()
  .transform(keyOf)
  .pipe(z.string().regex(LABEL_KEY, KEY_RULE))
  .openapi({ example: "hot-lead", description: `A stable slug: ${KEY_RULE}; stored lowercase (\`Hot-Lead\` is \`hot-lead\`).` });

/** A list of keys to link: each as stored, a key written twice (in any case) once. */
export const LabelKeys = (max: number) =>
  z
    .array(LabelKey)
    .max(max)
    .transform((keys) => [...new Set(keys)]);
export const Color = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "#rrggbb")
  .transform((c) => c.toLowerCase())
  .openapi({ example: "#22c55e" });

/** `tag`: /tags and a contact's `tags`; `group`: /contact-groups and a contact's `groups`. */
export type Kind = "tag" | "group";
const dictionaryOf: Record<Kind, Dictionary> = { tag: TAGS, group: GROUPS };
const nameOf: Record<Kind, string> = { tag: "tag", group: "contact group" };

export type LabelInput = { key: string; name?: string; color?: string | null };

const view = (row: CountedLabel) => ({
  id: row.id,
  key: row.key,
  name: row.name,
  color: row.color,
  count: row.count,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export async function labelsPage(env: Env, projectId: string, kind: Kind, page: { limit: number; offset: number }) {
  const { rows, total } = await listLabels(db(env.DB), dictionaryOf[kind], projectId, page);
  return paged(rows.map(view), total, page);
}

async function labelOrThrow(env: Env, projectId: string, kind: Kind, id: string) {
  const row = await findLabel(db(env.DB), dictionaryOf[kind], projectId, id);
  if (!row) throw notFound(nameOf[kind]);
  return view(row);
}

export async function createLabel(env: Env, projectId: string, kind: Kind, input: LabelInput) {
  const row = await insertLabel(db(env.DB), dictionaryOf[kind], {
    id: newId(),
    project_id: projectId,
    key: input.key,
    name: input.name ?? input.key,
    color: input.color ?? null,
  });
  if (!row) throw new ApiError(409, "key_exists", `key: this project already has a ${nameOf[kind]} "${input.key}"`, { field: "key" });
  return view({ ...row, count: 0 });
}

export async function changeLabel(env: Env, projectId: string, kind: Kind, id: string, patch: { name?: string; color?: string | null }) {
  if (!(await updateLabel(db(env.DB), dictionaryOf[kind], projectId, id, patch))) throw notFound(nameOf[kind]);
  return labelOrThrow(env, projectId, kind, id);
}

/** Gone from the dictionary and from every contact that had it. */
export async function removeLabel(env: Env, projectId: string, kind: Kind, id: string): Promise<void> {
  if (!(await deleteLabel(db(env.DB), dictionaryOf[kind], projectId, id))) throw notFound(nameOf[kind]);
}

// ------------------------------------------------------------ a contact's tags and groups

export type Change = { add?: string[]; remove?: string[] };

/** Keys clients send with a message or a filter, as stored (lowercase), each checked, naming the offending one. */
export function labelKeys(keys: string[], field: string): string[] {
  return keys.map((raw, i) => {
    const key = keyOf(raw);
    if (!LABEL_KEY.test(key)) throw new ApiError(400, "invalid_request", `${field}.${i}: ${KEY_RULE}`, { field: `${field}.${i}` });
    return key;
  });
}

/**
 * The statements (for one batch) that make a contact's keys of one kind
 * `current` + add - remove, creating unknown keys, with one timeline event
 * per key actually added or removed.
 */
function relabel(
  d1: Db,
  projectId: string,
  contactId: string,
  kind: Kind,
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
    statements.push(ensureLabels(d1, d, projectId, entries), linkLabels(d1, d, projectId, contactId, added));
  }
  if (removed.length > 0) statements.push(unlinkLabels(d1, d, projectId, contactId, removed));
  const events = [
    ...added.map((key) => contactEvent(projectId, contactId, `${kind}_added`, actor, { [kind]: key, ...extra }, at)),
    ...removed.map((key) => contactEvent(projectId, contactId, `${kind}_removed`, actor, { [kind]: key, ...extra }, at)),
  ];
  if (events.length > 0) statements.push(insertContactEvents(d1, events));
  return statements;
}

/**
 * Applies tag and group changes to a contact in one batch. `extra` rides on
 * each event (a send names its message).
 */
export async function applyLabels(
  env: Env,
  projectId: string,
  contact: ContactRow,
  changes: Partial<Record<Kind, Change>>,
  actor: Actor,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const d1 = db(env.DB);
  const current = await contactLabels(d1, projectId, [contact.id]);
  const statements = [
    ...relabel(d1, projectId, contact.id, "tag", current.tags.get(contact.id) ?? [], changes.tag ?? {}, actor, extra),
    ...relabel(d1, projectId, contact.id, "group", current.groups.get(contact.id) ?? [], changes.group ?? {}, actor, extra),
  ];
  const [first, ...rest] = statements;
  if (first) await d1.batch([first, ...rest]);
}

/** POST /contacts/{id}/tags and /groups: `{ add, remove }`; answers with the contact as it is now. */
export async function changeContactLabels(env: Env, projectId: string, contactId: string, kind: Kind, change: Change): Promise<ContactView> {
  const both = (change.add ?? []).filter((k) => change.remove?.includes(k));
  if (both.length > 0) {
    throw new ApiError(400, "invalid_request", `remove: "${both[0]}" is also in add`, { field: "remove" });
  }
  const contact = await contactOrThrow(env, projectId, contactId);
  await applyLabels(env, projectId, contact, { [kind]: change }, "api");
  return contactViewOf(db(env.DB), projectId, await contactOrThrow(env, projectId, contactId));
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
  await applyLabels(env, projectId, contact, { tag: { add: stamp.tags }, group: { add: stamp.groups } }, "api", { message_id: stamp.message_id });
}

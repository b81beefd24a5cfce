/**
 * Who a message is with: one contact per person, whatever WhatsApp calls them.
 *
 * WhatsApp names people by phone JID (`5511988887777@s.whatsapp.net`) or by
 * LID (`123456789012345@lid`, which hides the phone), and Brazilian numbers
 * exist in two forms (with and without the 9th digit). A contact keeps its
 * phone as WhatsApp's JID has it, its LID when known, and is found by either
 * form of the phone. A chat is keyed on the phone JID whenever the phone is
 * known, else on the LID; when WhatsApp later tells us the phone behind a
 * LID, the LID's contact takes the phone, or merges into the phone's contact.
 *
 * Owner of `lid_map` (what WhatsApp told us each LID stands for). The rows
 * it decides about are written by their owners: contacts (contact-store.ts),
 * their status (contact-status.ts), conversations and messages.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { phoneFromJid } from "../../shared/jid.ts";
import { phoneVariants } from "./phone.ts";
import { type Db, db } from "../db/client.ts";
import { contactOfRead, contactsReadOf, findContacts } from "../db/contacts.ts";
import { conversationsOfContacts, conversationsOfContactsRead } from "../db/conversations.ts";
import { Reads } from "../db/reads.ts";
import { type Mapping, pnForLid, pnForLidRead, upsertMappings } from "../db/lid-map.ts";
import type { ContactRow, ConversationRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { newId } from "../crypto.ts";
import { passOn } from "./chat-numbers.ts";
import { mergedStatus } from "./contact-status.ts";
import { addContact, addContactInBatch, mergeContacts, setLid, takePhone } from "./contact-store.ts";
import { conversationFor, mergeConversations, rekeyConversation, startConversationOf } from "./conversations.ts";
import { type NewEvent, publish } from "./events.ts";
import { bareJid, isLid, isPhoneJid } from "./jids.ts";
import { moveToContact } from "./message-status.ts";

const phoneVariantsOf = (pn: string | null) => {
  const phone = phoneFromJid(pn);
  return phone ? phoneVariants(phone) : [];
};

/** The phone JID and LID among some JIDs WhatsApp gave for one person (either may be missing). */
export type Who = { pn: string | null; lid: string | null };

/** The canonical JID: the phone's when known, else the LID. */
export const canonicalJid = (who: Who, fallback: string) => who.pn ?? who.lid ?? fallback;

/**
 * What the JIDs given for one person say, completed from what we learned
 * before (the LID map). A JID pair naming both a LID and a phone is itself
 * a mapping, learned on the way.
 */
export async function identify(env: Env, projectId: string, instanceId: string, jids: (string | null)[], opts: { pairLater?: boolean } = {}): Promise<Who> {
  const bare = jids.filter((j): j is string => !!j).map(bareJid);
  const who: Who = { pn: bare.find((j) => isPhoneJid(j)) ?? null, lid: bare.find((j) => isLid(j)) ?? null };
  // `pairLater`: the caller's lookup checks the pair in its own round trip (contactWithConversation's `pairUnchecked`).
  if (who.lid && who.pn && opts.pairLater) return who;
  if (who.lid && who.pn) {
    if ((await pnForLid(db(env.DB), projectId, who.lid)) !== who.pn) {
      await learnMappings(env, projectId, instanceId, [{ lid: who.lid, pn: who.pn }]);
    }
  } else if (who.lid) {
    who.pn = await pnForLid(db(env.DB), projectId, who.lid);
  }
  return who;
}

// ------------------------------------------------------------ contacts

/** A contact agrees with what we know of the person: it has the phone (if known) and the LID (if known). */
const settled = (rows: ContactRow[], who: Who) =>
  rows.length === 1 && (!who.pn || rows[0]!.phone !== null) && (!who.lid || rows[0]!.lid === who.lid);

/**
 * The person's contact, created when `create` is given and there is none.
 * A person known by phone and LID whose two contacts were never joined (the
 * mapping came between two lookups, or from another number) is joined here.
 */
export async function contactFor(
  env: Env,
  projectId: string,
  instanceId: string,
  who: Who,
  create?: { source: ContactRow["source"]; name: string | null },
): Promise<ContactRow | null> {
  return (await personOf(env, projectId, instanceId, who, create, false)).contact;
}

/**
 * The person's contact and their one conversation, as `contactFor` and
 * `conversationFor` give them, both created on the first message. A
 * customer writing again (the common case) costs one D1 round trip for both.
 */
export async function contactWithConversation(
  env: Env,
  projectId: string,
  instanceId: string,
  who: Who,
  create: { source: ContactRow["source"]; name: string | null },
  /** `who` names a LID and a phone that `identify` did not check against the LID map (`pairLater`): checked in the same round trip. */
  pairUnchecked = false,
): Promise<{ contact: ContactRow | null; conversation: ConversationRow | null }> {
  const { contact, conversations, created } = await personOf(env, projectId, instanceId, who, create, true, pairUnchecked);
  if (!contact) return { contact: null, conversation: null };
  const conversation = conversations.find((c) => c.contact_id === contact.id) ?? (await conversationFor(env, projectId, contact, instanceId, created));
  return { contact, conversation };
}

/** The person's contact, and (`withConversations`) the conversations of the contacts found, read in the same batch. */
async function personOf(
  env: Env,
  projectId: string,
  instanceId: string,
  who: Who,
  create: { source: ContactRow["source"]; name: string | null } | undefined,
  withConversations: boolean,
  pairUnchecked = false,
): Promise<{ contact: ContactRow | null; conversations: ConversationRow[]; created?: boolean }> {
  const d1 = db(env.DB);
  const phones = phoneVariantsOf(who.pn);
  const lids = who.lid ? [who.lid] : [];
  const pair = who.lid && who.pn ? { lid: who.lid, pn: who.pn } : null;
  const find = async (): Promise<[ContactRow[], ConversationRow[], boolean]> => {
    if (!withConversations || (phones.length === 0 && lids.length === 0)) return [await findContacts(d1, projectId, phones, lids), [], true];
    // Every text built once (a customer is looked up for every message they send), the LID's phone with them.
    const reads = new Reads();
    const found = reads.add(contactsReadOf(env.DB, projectId, phones, lids));
    const theirs = reads.add(conversationsOfContactsRead(env.DB, projectId, phones, lids));
    const mapped = pairUnchecked && pair ? reads.add(pnForLidRead(env.DB, projectId, pair.lid)) : null;
    await reads.run(env.DB);
    return [found().map(contactOfRead), theirs(), !mapped || mapped()[0]?.pn === pair?.pn];
  };
  let [rows, conversations, pairKnown] = await find();
  // A pair the LID map does not hold yet, or contacts that do not agree with it: learned (joining them), then looked up again.
  if (pair && (!pairKnown || (rows.length > 0 && !settled(rows, who)))) {
    await learnMappings(env, projectId, instanceId, [pair]);
    [rows, conversations] = await find();
  }
  const found = rows.find((r) => r.phone !== null && phones.includes(r.phone)) ?? rows.find((r) => r.lid === who.lid);
  if (found && found.jid === null && found.phone !== null && who.pn && phones.includes(found.phone)) {
    // Entered by hand (API, import): WhatsApp now names the number, so the contact takes WhatsApp's form of it.
    const confirmed = takePhone(d1, projectId, found, who.pn);
    await confirmed.write;
    return { contact: confirmed.row, conversations };
  }
  if (found) return { contact: found, conversations };
  if (!create || (!who.pn && !who.lid)) return { contact: null, conversations: [] };
  const row = {
    id: newId(),
    project_id: projectId,
    phone: phoneFromJid(who.pn),
    jid: who.pn,
    lid: who.lid,
    name: create.name,
    instance_id: instanceId,
    source: create.source,
  };
  if (withConversations && who.pn) {
    // A new customer's contact and conversation in one round trip: the conversation only if this contact was inserted.
    const [added, started] = await env.DB.batch([
      addContactInBatch(env.DB, row),
      startConversationOf(env.DB, { id: newId(), project_id: projectId, instance_id: instanceId }, row.id),
    ]);
    const inserted = added!.results[0] as Parameters<typeof contactOfRead>[0] | undefined;
    if (inserted) return { contact: contactOfRead(inserted), conversations: started!.results as ConversationRow[], created: true };
  } else {
    const inserted = await addContact(d1, row);
    if (inserted) return { contact: inserted, conversations: [], created: true };
  }
  // A concurrent first message created it.
  const [winner] = await findContacts(d1, projectId, phones, lids);
  return { contact: winner ?? null, conversations: [] };
}

// ------------------------------------------------------------ LID mappings

type Step = { statements: BatchItem<"sqlite">[]; events: NewEvent[]; affinity: [string, string][] };

/**
 * Learns LID <-> phone pairs (from alt JIDs, lid-mapping events, history
 * sync) and joins what they reveal: a LID-only contact takes its phone, or
 * merges into the phone's contact (`contact.merged`), its conversation and
 * messages moving to the phone JID. Safe to repeat.
 */
export async function learnMappings(env: Env, projectId: string, instanceId: string | null, mappings: Mapping[]): Promise<void> {
  const byLid = new Map<string, Mapping>();
  for (const m of mappings) {
    const lid = bareJid(m.lid);
    const pn = bareJid(m.pn);
    if (isLid(lid) && phoneFromJid(pn)) byLid.set(lid, { lid, pn });
  }
  const pairs = [...byLid.values()];
  if (pairs.length === 0) return;
  const d1 = db(env.DB);
  await upsertMappings(d1, projectId, pairs);

  const contacts = await findContacts(d1, projectId, pairs.flatMap((m) => phoneVariantsOf(m.pn)), pairs.map((m) => m.lid));
  if (contacts.length === 0) return;
  const conversations = await conversationsOfContacts(d1, projectId, contacts.map((c) => c.id));
  const step: Step = { statements: [], events: [], affinity: [] };
  const touched = new Set<string>();
  for (const mapping of pairs) {
    const phones = phoneVariantsOf(mapping.pn);
    const holder = contacts.find((c) => c.phone !== null && phones.includes(c.phone));
    const lidOnly = contacts.find((c) => c.lid === mapping.lid && c.id !== holder?.id);
    // One change per contact per call: a second mapping touching it is applied on its next sighting.
    if ([holder, lidOnly].some((c) => c && touched.has(c.id))) continue;
    if (lidOnly && lidOnly.phone !== null) {
      // The LID moved to another phone (WhatsApp reassigned it): it follows the phone.
      step.statements.push(setLid(d1, projectId, lidOnly.id, null));
      if (holder) step.statements.push(setLid(d1, projectId, holder.id, mapping.lid));
    } else if (lidOnly && holder) {
      merge(d1, projectId, instanceId, mapping, lidOnly, holder, conversations, step);
    } else if (lidOnly) {
      adopt(d1, projectId, mapping, lidOnly, conversations, step);
    } else if (holder && holder.lid !== mapping.lid) {
      step.statements.push(setLid(d1, projectId, holder.id, mapping.lid));
    }
    for (const c of [holder, lidOnly]) if (c) touched.add(c.id);
  }
  const [first, ...rest] = step.statements;
  if (first) await d1.batch([first, ...rest]);
  // The number that talked to the LID keeps talking to the phone.
  for (const [from, to] of step.affinity) await passOn(env, projectId, from, to);
  if (step.events.length > 0) await publish(env, projectId, ...step.events);
}

/** A LID-only contact learns its phone: it, its conversation and its messages are keyed on the phone JID now. */
function adopt(d1: Db, projectId: string, mapping: Mapping, contact: ContactRow, conversations: ConversationRow[], step: Step) {
  const conversation = conversations.find((c) => c.contact_id === contact.id);
  step.statements.push(
    moveToContact(d1, projectId, { contact_id: contact.id, chat_jid: mapping.lid }, { contact_id: contact.id, chat_jid: mapping.pn }),
    takePhone(d1, projectId, contact, mapping.pn).write,
  );
  if (conversation) step.statements.push(rekeyConversation(d1, projectId, conversation.id, mapping.pn));
  step.affinity.push([mapping.lid, mapping.pn]);
}

/** Two contacts turn out to be one person: the LID's folds into the phone's, with its conversation, messages and status. */
function merge(
  d1: Db,
  projectId: string,
  instanceId: string | null,
  mapping: Mapping,
  from: ContactRow,
  into: ContactRow,
  conversations: ConversationRow[],
  step: Step,
) {
  const fromConv = conversations.find((c) => c.contact_id === from.id);
  const intoConv = conversations.find((c) => c.contact_id === into.id);
  const chatJid = intoConv?.chat_jid ?? into.jid ?? mapping.pn;
  const target = intoConv ?? fromConv;
  const joined = mergeConversations(d1, projectId, fromConv, intoConv, { contact_id: into.id, chat_jid: chatJid });
  step.statements.push(
    moveToContact(d1, projectId, { contact_id: from.id, chat_jid: mapping.lid }, { contact_id: into.id, conversation_id: target?.id ?? null, chat_jid: chatJid }),
    ...joined.writes,
    ...mergeContacts(d1, projectId, from, into, mapping.lid),
    ...mergedStatus(d1, projectId, from, into, into.phone ?? phoneFromJid(chatJid)),
  );
  if (joined.moved) step.affinity.push([mapping.lid, chatJid]);
  step.events.push({
    type: "contact.merged",
    instance_id: instanceId,
    payload: { from_contact_id: from.id, into_contact_id: into.id, lid: mapping.lid, jid: chatJid },
  });
}

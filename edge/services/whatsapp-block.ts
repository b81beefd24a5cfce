/**
 * Blocking a person on WhatsApp itself: the number's own block list, as the
 * phone app's "Block" does, through the number's fleet. This is a different
 * layer from the CRM's suppression (`/contacts/{id}/suppress`, reference
 * 001): it changes nothing in the contact's CRM status, and a block holds on
 * the number that did it only. The contact's timeline records it, so whoever
 * reads the history sees why the person went quiet.
 */
import { phoneFromJid } from "../../shared/jid.ts";
import type { BlockAction } from "../../shared/protocol.ts";
import { phoneVariants } from "./phone.ts";
import { db } from "../db/client.ts";
import { findContact, findContacts } from "../db/contacts.ts";
import { findInstance } from "../db/instances.ts";
import type { ContactRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { numberOfChat } from "./chat-numbers.ts";
import { contactEvent, recordContactEvents } from "./contact-events.ts";
import { type CommandFailures, command } from "./instances.ts";
import { bareJid, isLid } from "./jids.ts";
import { addresseeOf, resolveRecipient } from "./recipients.ts";
import { getSettings } from "./settings.ts";
import { projectInstance } from "./whatsapp-groups.ts";

export type { BlockAction };
export type BlockStatus = { jid: string; blocked: boolean; instance_id: string };

/** A person's JID, device part allowed: a phone JID or a LID. Groups and channels cannot be blocked. */
const USER_JID = /^(\d{5,20}|\d{5,25})(:\d+)?@(s\.whatsapp\.net|lid)$/;
const CONTACT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const failures: CommandFailures = {
  not_on_whatsapp: (message) => new ApiError(422, "not_on_whatsapp", message, { field: "jid" }),
  invalid_jid: (message) => new ApiError(400, "invalid_request", `jid: ${message}`, { field: "jid" }),
};

/**
 * `who`: a JID, a phone (`+5511...`, resolved to its JID as a send would),
 * or the id of one of the project's contacts. Without `instanceId`, the
 * number that talks to that person (their sticky number, else the contact's
 * last number) does it.
 */
export async function setWhatsAppBlock(env: Env, projectId: string, who: string, action: BlockAction, instanceId?: string): Promise<BlockStatus> {
  const person = await personOf(env, projectId, who);
  const number = instanceId ? (await projectInstance(env, projectId, instanceId)).id : await numberOf(env, projectId, person);
  const result = await command(env, number, "contacts.block", { jid: person.jid, action }, 0, failures);
  if (person.contact) {
    const type = result.blocked ? "whatsapp_blocked" : "whatsapp_unblocked";
    await recordContactEvents(db(env.DB), [contactEvent(projectId, person.contact.id, type, "api", { jid: result.jid, instance_id: number })]);
  }
  return { jid: result.jid, blocked: result.blocked, instance_id: number };
}

export type Person = { jid: string; contact: ContactRow | undefined };

async function personOf(env: Env, projectId: string, who: string): Promise<Person> {
  const input = who.trim();
  const d1 = db(env.DB);
  if (CONTACT_ID.test(input)) {
    const contact = await findContact(d1, projectId, input);
    if (!contact) throw new ApiError(404, "not_found", "contact not found", { field: "jid" });
    const jid = contact.jid ?? contact.lid ?? (await resolveRecipient(env, projectId, addresseeOf(contact.phone ?? "", null, "jid"), "jid")).chat_jid;
    return { jid, contact };
  }
  let jid: string;
  if (input.includes("@")) {
    if (!USER_JID.test(input)) {
      throw new ApiError(400, "invalid_request", "jid: not a person's WhatsApp JID (…@s.whatsapp.net or …@lid), a +phone, or a contact id; groups cannot be blocked", {
        field: "jid",
      });
    }
    jid = bareJid(input);
  } else {
    const { default_country } = await getSettings(env, projectId);
    jid = (await resolveRecipient(env, projectId, addresseeOf(input, default_country, "jid"), "jid")).chat_jid;
  }
  const phone = phoneFromJid(jid);
  const [contact] = await findContacts(d1, projectId, phone ? phoneVariants(phone) : [], isLid(jid) ? [jid] : []);
  return { jid, contact };
}

/** The number that talks to this person, if it is connected: a block is that number's, and their profile is seen through it. */
export async function numberOf(env: Env, projectId: string, person: Person): Promise<string> {
  const d1 = db(env.DB);
  const sticky = await numberOfChat(env, projectId, person.jid);
  const ids = [...new Set([sticky, person.contact?.instance_id].filter((id): id is string => Boolean(id)))];
  const known = (await Promise.all(ids.map((id) => findInstance(d1, projectId, id)))).filter((row) => row !== undefined);
  const connected = known.find((row) => row.state === "connected");
  if (connected) return connected.id;
  if (known.length === 0) {
    throw new ApiError(400, "instance_id_required", `instance_id: no number of this project talks to ${person.jid} yet; name the number to do it through`, {
      field: "instance_id",
    });
  }
  throw new ApiError(409, "not_connected", `the number that talks to ${person.jid} is not connected to WhatsApp right now; try again, or name another with instance_id`, {
    field: "instance_id",
    instance_id: known[0]!.id,
  });
}

/**
 * `to` -> the canonical WhatsApp JID of the chat.
 *
 * JIDs pass through. Phone numbers are read to E.164 (under the project's
 * default country, see phone-input.ts), then asked of WhatsApp through a
 * connected number of the project (both Brazilian forms at once, keeping what
 * the server answers), and the answer is remembered per project so repeated
 * sends do not ask again. Owner of `recipients`.
 */
import { phoneVariants } from "./phone.ts";
import type { Result } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { connectedInstances } from "../db/instances.ts";
import { findRecipient, saveRecipients } from "../db/recipients.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { phoneOf } from "./phone-input.ts";

const FOUND_TTL_MS = 30 * 86_400_000;
/** A number may join WhatsApp tomorrow: "not on WhatsApp" is kept a short while only. */
const NOT_FOUND_TTL_MS = 86_400_000;

const JID = /^(\d{5,20}(:\d+)?@s\.whatsapp\.net|\d{5,25}@lid|[\d-]{5,40}@g\.us)$/;

export type Recipient = { chat_jid: string; phone: string | null };

/** Whom a client named, canonical: a JID (device part dropped) or a phone in E.164. */
export type Addressee = { jid: string; phone?: never } | { phone: string; jid?: never };

const NOT_A_RECIPIENT = "not a phone number, nor a WhatsApp JID";

/** `to` as written -> its canonical form; 400 naming `field` when it is neither a JID nor a readable phone. */
export function addresseeOf(to: string, defaultCountry: string | null, field = "to"): Addressee {
  const trimmed = to.trim();
  if (trimmed.includes("@")) {
    if (!JID.test(trimmed)) throw new ApiError(400, "invalid_request", `${field}: ${NOT_A_RECIPIENT}`, { field });
    return { jid: trimmed.replace(/:\d+@/, "@") };
  }
  return { phone: phoneOf(trimmed, field, defaultCountry, NOT_A_RECIPIENT) };
}

const notOnWhatsApp = (phone: string, field: string) =>
  new ApiError(422, "not_on_whatsapp", `${phone} is not on WhatsApp`, { field, phone });

/** `field`: what the caller's input is called, for the errors (a send's `to`, a route's `jid`). */
export async function resolveRecipient(env: Env, projectId: string, to: Addressee, field = "to"): Promise<Recipient> {
  if (to.jid !== undefined) return { chat_jid: to.jid, phone: null };
  const phone = to.phone;

  const cached = await findRecipient(db(env.DB), projectId, phone);
  if (cached) {
    const age = Date.now() - Date.parse(cached.checked_at);
    if (cached.jid && age < FOUND_TTL_MS) return { chat_jid: cached.jid, phone };
    if (!cached.jid && age < NOT_FOUND_TTL_MS) throw notOnWhatsApp(phone, field);
  }

  const answer = await askWhatsApp(env, projectId, phoneVariants(phone));
  // No connected number to ask: address the number as written; the send itself will tell.
  if (!answer) return { chat_jid: `${phone.slice(1)}@s.whatsapp.net`, phone };
  const jid = answer.find((r) => r.exists && r.jid)?.jid ?? null;
  await saveRecipients(db(env.DB), projectId, [{ phone, jid }]);
  if (!jid) throw notOnWhatsApp(phone, field);
  return { chat_jid: jid, phone };
}

async function askWhatsApp(env: Env, projectId: string, variants: string[]) {
  for (const instance of await connectedInstances(db(env.DB), projectId)) {
    const outcome = await instanceOf(env, instance.id).command("contacts.resolve", { phones: variants.map((v) => v.slice(1)) });
    // (Generics do not survive Durable Object RPC: the result is the method's, by construction.)
    if (outcome.ok) return (outcome.result as Result<"contacts.resolve">).results;
  }
  return null;
}

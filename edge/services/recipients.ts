/**
 * `to` -> the canonical WhatsApp JID of the chat.
 *
 * JIDs pass through. Phone numbers are read to E.164 (under the project's
 * default country, see phone-input.ts), then asked of WhatsApp through a
 * connected number of the project (both Brazilian forms at once, keeping what
 * the server answers; each phone asked spends that number's hourly lookup
 * budget, objects/lookup-budget.ts), and the answer is remembered per
 * project so repeated sends and checks do not ask again. Owner of `recipients`.
 */
import { phoneVariants } from "./phone.ts";
import type { Result } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { connectedInstances } from "../db/instances.ts";
import { Reads } from "../db/reads.ts";
import { type CachedRecipient, cachedRecipientsRead, findRecipients, saveRecipients } from "../db/recipients.ts";
import type { Env } from "../env.ts";
import { ApiError, RateLimited } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { phoneOf } from "./phone-input.ts";
import { getSettings } from "./settings.ts";

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

/**
 * `field`: what the caller's input is called, for the errors (a send's `to`, a route's `jid`).
 * A cache miss spends the asking number's lookup budget; with every connected
 * number's spent, the send is refused at once (429 `rate_limited`, with
 * `Retry-After`) rather than accepted to a JID nobody checked.
 */
export async function resolveRecipient(env: Env, projectId: string, to: Addressee, field = "to"): Promise<Recipient> {
  return (await resolveRecipients(env, projectId, [{ to, field }]))[0]!;
}

/** Several at once (a text's mentions): the phones not cached are asked of WhatsApp in one query. */
export async function resolveRecipients(env: Env, projectId: string, wanted: { to: Addressee; field: string }[]): Promise<Recipient[]> {
  const reads = new Reads();
  const resolve = recipientsRead(env, projectId, wanted, reads);
  await reads.run(env.DB);
  return resolve();
}

/**
 * `resolveRecipients` in two steps, for a caller that batches its reads: the
 * cache lookup joins `reads`, and the function returned resolves once they
 * ran (asking WhatsApp about the phones not cached).
 */
export function recipientsRead(env: Env, projectId: string, wanted: { to: Addressee; field: string }[], reads: Reads): () => Promise<Recipient[]> {
  const phones = wanted.flatMap(({ to }) => (to.jid === undefined ? [to.phone] : []));
  const cached = phones.length === 0 ? null : reads.add(cachedRecipientsRead(env.DB, projectId, phones));
  return async () => {
    const askers = async () => (await connectedInstances(db(env.DB), projectId)).map((i) => i.id);
    const answers = cached === null ? new Map() : await lookUpPhones(env, projectId, phones, askers, cached());
    return wanted.map(({ to, field }) => {
      if (to.jid !== undefined) return { chat_jid: to.jid, phone: null };
      // No connected number to ask: address the number as written; the send itself will tell.
      if (!answers) return { chat_jid: `${to.phone.slice(1)}@s.whatsapp.net`, phone: to.phone };
      const jid = answers.get(to.phone);
      if (!jid) throw notOnWhatsApp(to.phone, field);
      return { chat_jid: jid, phone: to.phone };
    });
  };
}

/** Each phone's account: its JID, or null when it is not on WhatsApp. */
export type PhoneAnswers = Map<string, string | null>;

/**
 * What WhatsApp says of each phone (E.164): the cache's answer while it is
 * fresh, the rest in one query through the first of `askers` (numbers, in the
 * order to try them) whose fleet answers and whose lookup budget holds the
 * whole batch; then cached. Null when no number could ask; 429 when the
 * numbers that could are all out of budget. `cached`: the cache's rows for
 * `phones`, when the caller has read them already.
 */
export async function lookUpPhones(
  env: Env,
  projectId: string,
  phones: string[],
  askers: () => Promise<string[]>,
  cached?: CachedRecipient[],
): Promise<PhoneAnswers | null> {
  const answers: PhoneAnswers = new Map();
  const now = Date.now();
  for (const row of cached ?? (await findRecipients(db(env.DB), projectId, phones))) {
    const age = now - Date.parse(row.checked_at);
    if (age < (row.jid ? FOUND_TTL_MS : NOT_FOUND_TTL_MS)) answers.set(row.phone, row.jid);
  }
  const missing = [...new Set(phones)].filter((phone) => !answers.has(phone));
  if (missing.length === 0) return answers;

  const asked = await askWhatsApp(env, projectId, missing, await askers());
  if (!asked) return null;
  const fresh = missing.map((phone) => {
    const forms = new Set(phoneVariants(phone).map((v) => v.slice(1)));
    return { phone, jid: asked.find((r) => forms.has(r.phone) && r.exists && r.jid)?.jid ?? null };
  });
  await saveRecipients(db(env.DB), projectId, fresh);
  for (const { phone, jid } of fresh) answers.set(phone, jid);
  return answers;
}

async function askWhatsApp(env: Env, projectId: string, phones: string[], askers: string[]) {
  const budget = (await getSettings(env, projectId)).caps.lookups_hourly;
  const variants = phones.flatMap((phone) => phoneVariants(phone).map((v) => v.slice(1)));
  let limited: { retry_after_s: number; message: string } | undefined;
  for (const id of askers) {
    const outcome = await instanceOf(env, id).lookUp(variants, phones.length, budget);
    // (Generics do not survive Durable Object RPC: the result is the method's, by construction.)
    if (outcome.ok) return (outcome.result as Result<"contacts.resolve">).results;
    if (outcome.code === "rate_limited" && "retry_after_s" in outcome && (!limited || outcome.retry_after_s < limited.retry_after_s)) limited = outcome;
  }
  if (limited) throw new RateLimited(limited.retry_after_s, limited.message, { budget, needed: phones.length });
  return null;
}

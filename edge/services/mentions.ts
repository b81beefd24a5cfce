/**
 * Mentions on a text or a caption: each person a client names (a phone in
 * any form, or a JID) becomes the JID WhatsApp knows them by, read and
 * looked up as `to` is (the uncached ones in one query), so they are notified. `["all"]` in a group is every
 * participant, which the fleet takes from the group's metadata at send time.
 */
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { canonicalJid, identify } from "./identity.ts";
import { bareJid, isGroup } from "./jids.ts";
import { addresseeOf, resolveRecipients } from "./recipients.ts";

export type Mentioned = { mentions: string[]; mention_all: boolean };

const invalid = (field: string, why: string) => new ApiError(400, "invalid_request", `${field}: ${why}`, { field });

export async function mentionsOf(
  env: Env,
  projectId: string,
  defaultCountry: string | null,
  given: string[] | undefined,
  chatJid: string,
): Promise<Mentioned | null> {
  if (!given?.length) return null;
  if (given.some((m) => m.toLowerCase() === "all")) {
    if (given.length > 1) throw invalid("mentions", '"all" mentions everyone: give it alone');
    if (!isGroup(chatJid)) throw invalid("mentions", '"all" mentions the participants of a group, and this chat is not one');
    return { mentions: [], mention_all: true };
  }
  const wanted = given.map((mention, i) => {
    const field = `mentions.${i}`;
    const to = addresseeOf(mention, defaultCountry, field);
    if (to.jid !== undefined && isGroup(to.jid)) throw invalid(field, "a group cannot be mentioned");
    return { to, field };
  });
  const jids = (await resolveRecipients(env, projectId, wanted)).map((r) => r.chat_jid);
  return { mentions: [...new Set(jids)], mention_all: false };
}

/** A received message's mentions as canonical JIDs: a LID becomes the phone JID behind it when we know it. */
export async function receivedMentions(env: Env, projectId: string, instanceId: string, jids: string[]): Promise<string[]> {
  const canonical = await Promise.all(jids.map(async (jid) => canonicalJid(await identify(env, projectId, instanceId, [jid]), bareJid(jid))));
  return [...new Set(canonical)];
}

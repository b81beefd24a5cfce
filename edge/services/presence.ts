/**
 * Presence in a customer's chat, through one number: showing "typing..." or
 * "recording audio..." (`POST /conversations/{jid}/presence`), and watching
 * the customer's own presence (`.../presence/subscribe`), which arrives as
 * `presence.update` events (objects/presence.ts keeps the subscriptions).
 *
 * The number is `instance_id`, else the one that talks to the customer (their
 * sticky number, else the conversation's). Presence is of the moment: it is
 * sent while the number is connected or not at all (409 `not_connected`);
 * a subscription is kept and made again on every connect.
 */
import type { ChatState } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { findInstance } from "../db/instances.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { numberOfChat } from "./chat-numbers.ts";
import { findConversationByJid } from "./conversations.ts";
import { command } from "./instances.ts";
import { isLid, isPhoneJid } from "./jids.ts";
import { addresseeOf, resolveRecipients } from "./recipients.ts";
import { getSettings } from "./settings.ts";
import { projectInstance } from "./whatsapp-groups.ts";

type Chat = { jid: string; instance_id: string };

export async function sendPresence(env: Env, projectId: string, jid: string, body: { state: ChatState; instance_id?: string }) {
  const chat = await chatOf(env, projectId, jid, body.instance_id);
  await command(env, chat.instance_id, "presence.send", { jid: chat.jid, state: body.state });
  return { ...chat, state: body.state };
}

export async function subscribePresence(env: Env, projectId: string, jid: string, body: { instance_id?: string }) {
  const chat = await chatOf(env, projectId, jid, body.instance_id);
  const outcome = await instanceOf(env, chat.instance_id).subscribePresence(chat.jid);
  if (!outcome.ok) {
    throw new ApiError(409, "too_many_subscriptions", `a number watches the presence of at most ${outcome.limit} chats; unsubscribe from one first`, {
      field: "jid",
      limit: outcome.limit,
    });
  }
  return { ...chat, subscribed: true };
}

export async function unsubscribePresence(env: Env, projectId: string, jid: string, body: { instance_id?: string }) {
  const chat = await chatOf(env, projectId, jid, body.instance_id);
  await instanceOf(env, chat.instance_id).unsubscribePresence(chat.jid);
  return { ...chat, subscribed: false };
}

/**
 * The chat (the conversation's JID) and the number. Someone with no
 * conversation yet is found as a send's `to` would be (a phone in any form,
 * or their JID) when the number is named.
 */
async function chatOf(env: Env, projectId: string, jid: string, instanceId?: string): Promise<Chat> {
  if (instanceId) await projectInstance(env, projectId, instanceId);
  let conversation;
  try {
    conversation = await findConversationByJid(env, projectId, jid);
  } catch (err) {
    if (!(instanceId && err instanceof ApiError && err.status === 404)) throw err;
    return { jid: await personOf(env, projectId, jid), instance_id: instanceId };
  }
  if (instanceId) return { jid: conversation.chat_jid, instance_id: instanceId };
  const d1 = db(env.DB);
  const sticky = await numberOfChat(env, projectId, conversation.chat_jid);
  for (const candidate of new Set([sticky, conversation.instance_id])) {
    if (candidate && (await findInstance(d1, projectId, candidate))) return { jid: conversation.chat_jid, instance_id: candidate };
  }
  throw new ApiError(400, "instance_id_required", `instance_id: no number of this project talks to ${conversation.chat_jid} any more; name one`, {
    field: "instance_id",
  });
}

/** A person the project never talked to, as a send's `to` finds them; a group is no person. */
async function personOf(env: Env, projectId: string, jid: string): Promise<string> {
  const to = addresseeOf(jid, (await getSettings(env, projectId)).default_country, "jid");
  const [person] = await resolveRecipients(env, projectId, [{ to, field: "jid" }]);
  if (!isPhoneJid(person!.chat_jid) && !isLid(person!.chat_jid)) throw notFound("conversation");
  return person!.chat_jid;
}

/**
 * Status posts (WhatsApp stories): one message to `status@broadcast`,
 * through the one number the client names, shown to an audience. It is
 * accepted as any send is (messages.ts): Idempotency-Key, stored `queued`,
 * on its number's outbox, paced, `message.sent` and `message.status` events
 * with its `reference`. The outbox part carries the audience, which the
 * fleet hands to Baileys (`statusJidList`) to encrypt the post for each of
 * their devices.
 */
import { STATUS_JID, type StatusPost } from "../../shared/protocol.ts";
import { newId } from "../crypto.ts";
import { db } from "../db/client.ts";
import { chatsOfNumber } from "../db/conversations.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import type { OutboxPart } from "../objects/outbox.ts";
import { isGroup } from "./jids.ts";
import { type Accepted, accepted, idempotencyOf, mediaPart, queueMessage, queuedRow } from "./messages.ts";
import { unsendableOf } from "./privacy.ts";
import { addresseeOf, resolveRecipients } from "./recipients.ts";
import { getSettings } from "./settings.ts";
import { STATUS_AUDIENCE_MAX, type StatusRequest } from "./status-request.ts";
import { waMessageId } from "./wa-ids.ts";
import { projectInstance } from "./whatsapp-groups.ts";

export type StatusAccepted = Accepted & { audience_size: number };

export async function postStatus(
  env: Env,
  projectId: string,
  request: StatusRequest,
  idempotencyKey?: string,
): Promise<{ accepted: StatusAccepted; replayed: boolean }> {
  const { type, ...body } = request;
  // Its own route in the fingerprint: the same key on a /messages send is another request.
  const idempotency = await idempotencyOf(env, projectId, `status/${type}`, body, idempotencyKey);
  if (idempotency?.earlier) return { accepted: statusAccepted(idempotency.earlier), replayed: true };
  await projectInstance(env, projectId, request.instance_id);
  const settings = await getSettings(env, projectId);
  const audience = await audienceOf(env, projectId, request.instance_id, request.audience, settings.default_country);

  const looks = request.type === "text" ? { background_color: request.background_color ?? null, font: request.font ?? null } : { background_color: null, font: null };
  const status: StatusPost = { audience, ...looks };
  const { content, stored } =
    request.type === "text"
      ? { content: { type: "text" as const, text: request.body }, stored: { body: request.body } }
      : await mediaPart(env, projectId, request.type, request.media);
  const parts: OutboxPart[] = [{ wa_message_id: waMessageId(), content, status }];
  const row = queuedRow({
    id: newId(),
    project_id: projectId,
    instance_id: request.instance_id,
    chat_jid: STATUS_JID,
    type,
    content: { ...stored, status },
    reference: request.reference ?? null,
    tags: null,
    groups: null,
    quoted_id: null,
    parts,
    idempotency,
  });
  const outcome = await queueMessage(env, row, parts, settings, idempotency);
  return { accepted: { ...outcome.accepted, audience_size: audience.length }, replayed: outcome.replayed };
}

function statusAccepted(row: MessageRow): StatusAccepted {
  const status = row.content.status as StatusPost | undefined;
  return { ...accepted(row), audience_size: status?.audience.length ?? 0 };
}

/**
 * Who sees the post, as JIDs: the people named (read as a send's `to`, each
 * error naming its `audience[i]`), or else the customers who talk to this
 * number now, most recently active first, up to STATUS_AUDIENCE_MAX. People
 * nothing may be sent to are left out; 422 `no_audience` if nobody is left.
 */
async function audienceOf(env: Env, projectId: string, instanceId: string, named: string[] | undefined, country: string | null): Promise<string[]> {
  const jids = named
    ? await namedAudience(env, projectId, named, country)
    : await chatsOfNumber(db(env.DB), projectId, instanceId, STATUS_AUDIENCE_MAX);
  const unique = [...new Set(jids)];
  const refused = await unsendableOf(env, projectId, unique);
  const audience = unique.filter((jid) => !refused.has(jid));
  if (audience.length === 0) {
    const why = named
      ? "everyone in audience is opted out, suppressed or blocked"
      : "this number has no contacts to show a status to yet: name them in audience";
    throw new ApiError(422, "no_audience", why, { field: "audience" });
  }
  return audience;
}

async function namedAudience(env: Env, projectId: string, named: string[], country: string | null): Promise<string[]> {
  const wanted = named.map((entry, i) => {
    const field = `audience[${i}]`;
    const to = addresseeOf(entry, country, field);
    if (to.jid !== undefined && isGroup(to.jid)) {
      throw new ApiError(400, "invalid_request", `${field}: a status is shown to people, not to groups`, { field });
    }
    return { to, field };
  });
  return (await resolveRecipients(env, projectId, wanted)).map((recipient) => recipient.chat_jid);
}

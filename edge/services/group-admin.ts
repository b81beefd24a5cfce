/**
 * Administering WhatsApp groups (chat rooms, not the CRM's contact groups)
 * through a number that is in them: create, change subject, description
 * and settings, add / remove / promote / demote people, the invite link,
 * join by invite, leave. Each is one command to the number's fleet
 * (fleet/group-admin.ts), which reads the group's metadata first and
 * refuses a number that is not in the group (409 `not_group_member`) or,
 * for admin actions, not an admin (403 `not_group_admin`), both naming
 * `instance_id`.
 *
 * The number is the one the client names, or else the connected number of
 * the project most lately seen in the group (as sends to groups pick one),
 * or else the first of a few connected numbers that WhatsApp says is in it
 * (a group just created or joined has no messages yet). A group none of
 * them is in is 404: another project's group is no different from none.
 */
import type { GroupChanges, ParticipantAction, Result, WhatsAppGroup } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { connectedInstances } from "../db/instances.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { type CommandFailures, command } from "./instances.ts";
import { isGroup } from "./jids.ts";
import { addresseeOf, resolveRecipients } from "./recipients.ts";
import { getSettings } from "./settings.ts";
import { connectedMember, projectInstance } from "./whatsapp-groups.ts";

/** Where an invite code leads, as WhatsApp writes the link. */
export const INVITE_BASE = "https://chat.whatsapp.com/";
const INVITE = /^(?:https?:\/\/chat\.whatsapp\.com\/(?:invite\/)?)?([A-Za-z0-9]{10,40})\/?$/;

const failures: CommandFailures = {
  group_not_found: (message) => new ApiError(404, "not_found", message, { field: "jid" }),
  not_group_member: (message) => new ApiError(409, "not_group_member", `instance_id: ${message}`, { field: "instance_id" }),
  not_group_admin: (message) => new ApiError(403, "not_group_admin", `instance_id: ${message}`, { field: "instance_id" }),
  invite_invalid: (message) => new ApiError(404, "invite_invalid", `invite: ${message}`, { field: "invite" }),
  invite_refused: (message) => new ApiError(403, "invite_refused", `invite: ${message}`, { field: "invite" }),
  group_full: (message) => new ApiError(409, "group_full", `invite: ${message}`, { field: "invite" }),
};

type Driven<T> = T & { instance_id: string };

/** How many connected numbers are asked whether they are in a group no number was seen in (one query each, at once). */
const MEMBERS_ASKED = 5;

/** The number that drives `jid`: the one named (the project's, else 404), or a connected member. */
async function driver(env: Env, projectId: string, jid: string, instanceId: string | undefined): Promise<string> {
  if (instanceId) return (await projectInstance(env, projectId, instanceId)).id;
  const member = await connectedMember(env, projectId, jid);
  if (member) return member;
  const numbers = (await connectedInstances(db(env.DB), projectId)).slice(0, MEMBERS_ASKED);
  const answers = await Promise.all(numbers.map((row) => instanceOf(env, row.id).command("groups.get", { jid })));
  const inGroup = numbers.find((_, i) => answers[i]!.ok);
  if (inGroup) return inGroup.id;
  throw new ApiError(
    404,
    "not_found",
    "jid: no connected number of this project is in this group (or seen in it); name one that is with instance_id",
    { field: "jid" },
  );
}

/** People as the client wrote them (phones in any form, JIDs) -> the JIDs WhatsApp knows them by; 400 naming `field.i`. */
async function participantJids(env: Env, projectId: string, given: string[], field: string): Promise<string[]> {
  const { default_country } = await getSettings(env, projectId);
  const wanted = given.map((person, i) => {
    const at = `${field}.${i}`;
    const to = addresseeOf(person, default_country, at);
    if (to.jid !== undefined && isGroup(to.jid)) throw new ApiError(400, "invalid_request", `${at}: a group cannot be a participant`, { field: at });
    return { to, field: at };
  });
  return [...new Set((await resolveRecipients(env, projectId, wanted)).map((r) => r.chat_jid))];
}

export async function createGroup(
  env: Env,
  projectId: string,
  input: { instance_id: string; subject: string; participants: string[] },
): Promise<Driven<WhatsAppGroup>> {
  const id = (await projectInstance(env, projectId, input.instance_id)).id;
  const participants = await participantJids(env, projectId, input.participants, "participants");
  const { group } = await command(env, id, "groups.create", { subject: input.subject, participants }, 0, failures);
  return { ...group, instance_id: id };
}

export async function updateGroup(env: Env, projectId: string, jid: string, instanceId: string | undefined, changes: GroupChanges): Promise<Driven<WhatsAppGroup>> {
  const id = await driver(env, projectId, jid, instanceId);
  const { group } = await command(env, id, "groups.update", { jid, changes }, 0, failures);
  return { ...group, instance_id: id };
}

export async function changeParticipants(
  env: Env,
  projectId: string,
  jid: string,
  instanceId: string | undefined,
  action: ParticipantAction,
  people: string[],
): Promise<Driven<{ action: ParticipantAction } & Result<"groups.participants">>> {
  const participants = await participantJids(env, projectId, people, action);
  const id = await driver(env, projectId, jid, instanceId);
  const { results } = await command(env, id, "groups.participants", { jid, action, participants }, 0, failures);
  return { action, results, instance_id: id };
}

export async function groupInvite(env: Env, projectId: string, jid: string, instanceId: string | undefined, revoke: boolean) {
  const id = await driver(env, projectId, jid, instanceId);
  const { code } = await command(env, id, "groups.invite", { jid, revoke }, 0, failures);
  return { jid, code, url: `${INVITE_BASE}${code}`, instance_id: id };
}

/** `invite`: the code, or the link WhatsApp shares it as. */
export async function joinGroup(env: Env, projectId: string, instanceId: string, invite: string) {
  const code = INVITE.exec(invite.trim())?.[1];
  if (!code) throw new ApiError(400, "invalid_request", `invite: not an invite code, nor a ${INVITE_BASE}… link`, { field: "invite" });
  const id = (await projectInstance(env, projectId, instanceId)).id;
  const { jid } = await command(env, id, "groups.join", { code }, 0, failures);
  return { jid, instance_id: id };
}

export async function leaveGroup(env: Env, projectId: string, jid: string, instanceId: string | undefined) {
  const id = await driver(env, projectId, jid, instanceId);
  await command(env, id, "groups.leave", { jid }, 0, failures);
  return { jid, instance_id: id, left: true as const };
}

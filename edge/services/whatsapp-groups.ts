/**
 * WhatsApp groups (chat rooms) at `/groups`: what one of the project's
 * numbers sees of the groups it is in, asked of that number's fleet. Not the
 * CRM's contact groups (`/contact-groups`), which are segments of contacts
 * (reference 001 keeps the two apart, and so does this code).
 *
 * A group only takes messages from its members, so a send to a group goes
 * through a number that is in it: the one the client names, or else the
 * connected number that most lately heard from the group or got a message
 * into it.
 */
import type { WhatsAppGroup } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { connectedInstances, findInstance } from "../db/instances.ts";
import { recentNumbersInChat } from "../db/messages.ts";
import { findPool } from "../db/pools.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { type CommandFailures, command } from "./instances.ts";

/** The project's number, or 404 naming `instance_id`: another project's number is no different from none. */
export async function projectInstance(env: Env, projectId: string, instanceId: string) {
  const row = await findInstance(db(env.DB), projectId, instanceId);
  if (!row) throw new ApiError(404, "not_found", "instance not found", { field: "instance_id" });
  return row;
}

const failures: CommandFailures = {
  group_not_found: (message) => new ApiError(404, "not_found", message, { field: "jid" }),
};

export async function listWhatsAppGroups(env: Env, projectId: string, instanceId: string): Promise<{ data: WhatsAppGroup[] }> {
  await projectInstance(env, projectId, instanceId);
  const { groups } = await command(env, instanceId, "groups.list", {}, 0, failures);
  return { data: groups };
}

export async function getWhatsAppGroup(env: Env, projectId: string, instanceId: string, jid: string): Promise<WhatsAppGroup> {
  await projectInstance(env, projectId, instanceId);
  const { group } = await command(env, instanceId, "groups.get", { jid }, 0, failures);
  return group;
}

/** The number a send to a group goes through when the client named none (within `poolId`, if given). */
export async function groupSender(env: Env, projectId: string, groupJid: string, poolId: string | null): Promise<string> {
  const d1 = db(env.DB);
  if (poolId && !(await findPool(d1, projectId, poolId))) throw new ApiError(404, "not_found", "pool not found", { field: "pool_id" });
  const member = await connectedMember(env, projectId, groupJid, poolId);
  if (member) return member;
  throw new ApiError(
    400,
    "instance_id_required",
    "instance_id: a WhatsApp group takes messages only from its members, and no connected number of this project has been seen in it; name the number with instance_id",
    { field: "instance_id" },
  );
}

/** The connected number of the project that most lately heard from the group or got a message into it, if any. */
export async function connectedMember(env: Env, projectId: string, groupJid: string, poolId: string | null = null): Promise<string | null> {
  const d1 = db(env.DB);
  const [connected, recent] = await Promise.all([
    connectedInstances(d1, projectId, poolId ?? undefined),
    recentNumbersInChat(d1, projectId, groupJid),
  ]);
  const usable = new Set(connected.map((row) => row.id));
  return recent.find((id) => usable.has(id)) ?? null;
}

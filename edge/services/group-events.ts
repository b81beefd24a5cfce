/**
 * What a number hears of its WhatsApp groups changing (the fleet's
 * `group.updated` and `group.participants`) becomes the project's events of
 * the same names, people named as everywhere else: by phone JID when the
 * project knows the phone behind a LID.
 */
import type { GroupParticipantsChanged, GroupUpdated } from "../../shared/protocol.ts";
import { db } from "../db/client.ts";
import { pnForLid } from "../db/lid-map.ts";
import type { Env } from "../env.ts";
import type { InstanceMeta } from "../objects/instance-storage.ts";
import { publish } from "./events.ts";
import { isLid } from "./jids.ts";

export async function publishGroupUpdated(env: Env, meta: InstanceMeta, update: GroupUpdated): Promise<void> {
  const { jid, subject, description, announce, restrict, by } = update;
  await publish(env, meta.project_id, {
    type: "group.updated",
    instance_id: meta.instance_id,
    payload: {
      jid,
      ...(subject !== undefined && { subject }),
      ...(description !== undefined && { description }),
      ...(announce !== undefined && { only_admins_send: announce }),
      ...(restrict !== undefined && { only_admins_edit: restrict }),
      by: await canonical(env, meta.project_id, by),
    },
  });
}

export async function publishGroupParticipants(env: Env, meta: InstanceMeta, change: GroupParticipantsChanged): Promise<void> {
  const participants = await Promise.all(change.participants.map((jid) => canonical(env, meta.project_id, jid)));
  await publish(env, meta.project_id, {
    type: "group.participants",
    instance_id: meta.instance_id,
    payload: {
      jid: change.jid,
      action: change.action,
      participants: participants.filter((jid): jid is string => jid !== null),
      by: await canonical(env, meta.project_id, change.by),
    },
  });
}

async function canonical(env: Env, projectId: string, jid: string | null): Promise<string | null> {
  if (!jid || !isLid(jid)) return jid;
  return (await pnForLid(db(env.DB), projectId, jid)) ?? jid;
}

/**
 * The one way to reach each Durable Object: a typed stub named for what the
 * object is for, and the one place each object's name is built (as the
 * agents SDK's `getAgentByName`). Code outside edge/objects/ never calls
 * `idFromName` itself.
 */
import type { Env } from "../env.ts";
import { eventShards } from "../services/event-shards.ts";

/** The number's own object (objects/instance.ts): lease, status, session, send queue. */
export const instanceOf = (env: Env, instanceId: string) => env.INSTANCE.get(env.INSTANCE.idFromName(instanceId));

/**
 * One of the project's event hubs (objects/hub.ts): event log, SSE, the start
 * of webhook deliveries. Hub 0 keeps the project's id as its name (the one
 * hub a project had before they were sharded: services/event-shards.ts).
 * Made afresh on every call, not cached per isolate: a stub belongs to the
 * request or Durable Object that made it (workerd refuses it elsewhere:
 * "Cannot perform I/O on behalf of a different Durable Object"), and making
 * one costs about 3 us in workerd.
 */
export const hubOf = (env: Env, projectId: string, shard = 0) =>
  env.EVENTS.get(env.EVENTS.idFromName(shard === 0 ? projectId : `${projectId}#${shard}`));

/** Every event hub of the project, hub 0 first. */
export const hubsOf = (env: Env, projectId: string) => Array.from({ length: eventShards(env) }, (_, k) => hubOf(env, projectId, k));

/**
 * Which number talks to one contact (objects/affinity.ts). `chatJid`: the
 * contact's chat JID as the conversation keys it (a phone JID, or a LID
 * until the phone is known).
 */
export const affinityOf = (env: Env, projectId: string, chatJid: string) =>
  env.AFFINITY.get(env.AFFINITY.idFromName(`${projectId}:${chatJid}`));

/** The one fleet directory (objects/directory.ts): which fleet process runs which number. */
export const directoryOf = (env: Env) => env.DIRECTORY.get(env.DIRECTORY.idFromName("global"));

/** Pools: named groups of numbers with a rotation strategy. Owner of `pools` and `pool_members` (a pool's rotation cursor is selector.ts's). */
import { newId } from "../crypto.ts";
import { db } from "../db/client.ts";
import type { Page } from "../db/pagination.ts";
import { deletePool, findPool, insertPool, listPools, ownedInstanceIds, updatePool } from "../db/pools.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import type { Strategy } from "./settings-schema.ts";

type PoolInput = { name: string; strategy: Strategy; instance_ids: string[] };

/** Members must be the project's own numbers; naming another's is a 400 on the field. */
async function checkMembers(env: Env, projectId: string, ids: string[]) {
  const unique = [...new Set(ids)];
  const owned = await ownedInstanceIds(db(env.DB), projectId, unique);
  const unknown = unique.filter((id) => !owned.has(id));
  if (unknown.length > 0) {
    throw new ApiError(400, "invalid_request", `instance_ids: no such instance: ${unknown.join(", ")}`, {
      field: "instance_ids",
      unknown,
    });
  }
  return unique;
}

export async function createPool(env: Env, projectId: string, input: PoolInput) {
  const members = await checkMembers(env, projectId, input.instance_ids);
  const id = newId();
  await insertPool(db(env.DB), { id, project_id: projectId, name: input.name, strategy: input.strategy }, members);
  return getPool(env, projectId, id);
}

export async function getPool(env: Env, projectId: string, id: string) {
  const pool = await findPool(db(env.DB), projectId, id);
  if (!pool) throw notFound("pool");
  const { project_id: _p, rr_cursor: _c, ...rest } = pool;
  return rest;
}

export async function poolsPage(env: Env, projectId: string, page: Page) {
  const result = await listPools(db(env.DB), projectId, page);
  return { ...result, data: result.data.map(({ project_id: _p, rr_cursor: _c, ...rest }) => rest) };
}

export async function changePool(env: Env, projectId: string, id: string, patch: Partial<PoolInput>) {
  await getPool(env, projectId, id);
  const members = patch.instance_ids ? await checkMembers(env, projectId, patch.instance_ids) : undefined;
  const { instance_ids: _i, ...fields } = patch;
  await updatePool(db(env.DB), projectId, id, fields, members);
  return getPool(env, projectId, id);
}

export async function removePool(env: Env, projectId: string, id: string) {
  if (!(await deletePool(db(env.DB), projectId, id))) throw notFound("pool");
}

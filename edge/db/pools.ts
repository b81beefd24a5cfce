/** Storage for `pools` and `pool_members`. Every query names the project. */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Strategy } from "../enums.ts";
import type { Db } from "./client.ts";
import { ofProject } from "./scope.ts";
import { inList } from "./lists.ts";
import { type Page, pageOf, paged } from "./pagination.ts";
import { instances, poolMembers, pools } from "./schema/index.ts";

type PoolInput = { name: string; strategy: Strategy };

async function membersOf(db: Db, poolIds: string[]): Promise<Map<string, string[]>> {
  const members = new Map<string, string[]>(poolIds.map((id) => [id, []]));
  if (poolIds.length === 0) return members;
  const rows = await db
    .select()
    .from(poolMembers)
    .where(inList(poolMembers.pool_id, poolIds))
    .orderBy(poolMembers.instance_id);
  for (const row of rows) members.get(row.pool_id)?.push(row.instance_id);
  return members;
}

export async function insertPool(db: Db, row: PoolInput & { id: string; project_id: string }, instanceIds: string[]) {
  await db.batch([
    db.insert(pools).values(row),
    ...instanceIds.map((instance_id) => db.insert(poolMembers).values({ pool_id: row.id, instance_id })),
  ]);
}

export async function findPool(db: Db, projectId: string, id: string) {
  const [pool] = await db
    .select()
    .from(pools)
    .where(ofProject(pools, projectId, id))
    .limit(1);
  if (!pool) return undefined;
  return { ...pool, instance_ids: (await membersOf(db, [id])).get(id) ?? [] };
}

export async function listPools(db: Db, projectId: string, page: Page) {
  const { data: rows, total } = await pageOf(db, pools, eq(pools.project_id, projectId), [desc(pools.created_at)], page);
  const members = await membersOf(
    db,
    rows.map((r) => r.id),
  );
  return paged(
    rows.map((r) => ({ ...r, instance_ids: members.get(r.id) ?? [] })),
    total,
    page,
  );
}

/** Replaces name/strategy and, when given, the whole member list, in one batch. */
export async function updatePool(db: Db, projectId: string, id: string, patch: Partial<PoolInput>, instanceIds?: string[]) {
  const where = ofProject(pools, projectId, id);
  const statements = [db.update(pools).set({ ...patch, updated_at: new Date().toISOString() }).where(where)];
  if (instanceIds) {
    await db.batch([
      statements[0],
      db.delete(poolMembers).where(eq(poolMembers.pool_id, id)),
      ...instanceIds.map((instance_id) => db.insert(poolMembers).values({ pool_id: id, instance_id })),
    ]);
  } else {
    await statements[0];
  }
}

export async function deletePool(db: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(pools)
    .where(ofProject(pools, projectId, id))
    .returning({ id: pools.id });
  return rows.length > 0;
}

export async function advancePoolCursor(db: Db, projectId: string, id: string): Promise<number> {
  const [row] = await db
    .update(pools)
    .set({ rr_cursor: sql`${pools.rr_cursor} + 1` })
    .where(ofProject(pools, projectId, id))
    .returning({ cursor: pools.rr_cursor });
  return row?.cursor ?? 0;
}

/** Which of these ids are instances of the project. */
export async function ownedInstanceIds(db: Db, projectId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.project_id, projectId), inList(instances.id, ids)));
  return new Set(rows.map((r) => r.id));
}

/**
 * Storage for `instances`. Every read and write names the project: no caller
 * can reach another project's row by guessing an id.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { type Page, pageOf } from "./pagination.ts";
import { prepared } from "./reads.ts";
import { driverValue, written, type Written } from "./written.ts";
import { type InstanceRow, instances, poolMembers } from "./schema/index.ts";

export type InstanceStatusPatch = Partial<
  Pick<
    InstanceRow,
    | "state"
    | "reason"
    | "jid"
    | "lid"
    | "phone"
    | "push_name"
    | "last_close_code"
    | "last_close_at"
    | "fleet_id"
    | "health"
    | "first_connected_at"
    | "sent_today"
    | "sent_day"
    | "last_sent_at"
    | "dead_socket_reconnects"
  >
>;

export async function insertInstance(db: Db, row: { id: string; project_id: string; name: string; proxy_url: string | null }) {
  const [instance] = await db.insert(instances).values(row).returning();
  return instance;
}

export async function findInstance(db: Db, projectId: string, id: string) {
  return first(instanceQuery(db, projectId, id));
}

const instanceQuery = (db: Db, projectId: string, id: string) => db.select().from(instances).where(ofProject(instances, projectId, id)).limit(1);

const existsRead = prepared<{ id: string }, { project_id: string; id: string }>(
  new QueryBuilder()
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.project_id, sql.placeholder("project_id")), eq(instances.id, sql.placeholder("id")))),
);

/** Whether the project has this number, as a read for a batch (db/reads.ts): a row, or none. */
export const instanceExistsRead = (d1: D1Database, projectId: string, id: string) => existsRead(d1, { project_id: projectId, id });

export async function listInstances(db: Db, projectId: string, page: Page) {
  return pageOf(db, instances, eq(instances.project_id, projectId), [desc(instances.created_at), desc(instances.id)], page);
}

/** The status write's text, per set of columns (a send's counters are one), written once: ?1 project, ?2 number, ?3 time, then the columns. */
const statusWrites = new Map<string, Written>();

/**
 * The write, to `.run()` or to put in a D1 batch (a send's move to `sent`
 * carries the counters): written once per set of columns, as it runs on
 * every send.
 */
export function updateInstanceStatus(db: Db, projectId: string, id: string, patch: InstanceStatusPatch): D1PreparedStatement {
  const keys = Object.keys(patch).filter((key) => patch[key as keyof InstanceStatusPatch] !== undefined);
  const shape = keys.join();
  let write = statusWrites.get(shape);
  if (!write) {
    const set = keys.map((key, i) => `"${key}" = ?${4 + i}, `).join("");
    write = written(`UPDATE instances SET ${set}updated_at = ?3 WHERE project_id = ?1 AND id = ?2`);
    statusWrites.set(shape, write);
  }
  const values = keys.map((key) => driverValue(instances, key, patch[key as keyof InstanceStatusPatch]));
  return write(db.$client, [projectId, id, new Date().toISOString(), ...values]);
}

/** The proxy its WhatsApp traffic goes through (null: none). */
export async function setInstanceProxy(db: Db, projectId: string, id: string, proxyUrl: string | null) {
  await db
    .update(instances)
    .set({ proxy_url: proxyUrl, updated_at: new Date().toISOString() })
    .where(ofProject(instances, projectId, id));
}

export async function deleteInstance(db: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(instances)
    .where(ofProject(instances, projectId, id))
    .returning({ id: instances.id });
  return rows.length > 0;
}

/** The project's connected numbers (optionally only a pool's): what rotation chooses from. */
const rotationColumns = {
  id: instances.id,
  health: instances.health,
  first_connected_at: instances.first_connected_at,
  sent_today: instances.sent_today,
  sent_day: instances.sent_day,
  last_sent_at: instances.last_sent_at,
};

export async function connectedInstances(db: Db, projectId: string, poolId?: string) {
  const connected = and(eq(instances.project_id, projectId), eq(instances.state, "connected"));
  const where = poolId
    ? and(
        connected,
        inArray(instances.id, db.select({ id: poolMembers.instance_id }).from(poolMembers).where(eq(poolMembers.pool_id, poolId))),
      )
    : connected;
  return db.select(rotationColumns).from(instances).where(where).orderBy(instances.id);
}

const connectedRead = prepared<RotationCandidate, { project_id: string }>(
  new QueryBuilder()
    .select(rotationColumns)
    .from(instances)
    .where(and(eq(instances.project_id, sql.placeholder("project_id")), eq(instances.state, "connected")))
    .orderBy(instances.id),
);

/** The project's `connectedInstances` (no pool), as a read for a batch (db/reads.ts). */
export const connectedInstancesRead = (d1: D1Database, projectId: string) => connectedRead(d1, { project_id: projectId });

export type RotationCandidate = Awaited<ReturnType<typeof connectedInstances>>[number];

export async function instanceIdsOf(db: Db, projectId: string): Promise<string[]> {
  const rows = await db.select({ id: instances.id }).from(instances).where(eq(instances.project_id, projectId));
  return rows.map((r) => r.id);
}

/** Storage for `lid_map`: what WhatsApp told us each LID stands for, per project. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import type { Bound } from "./reads.ts";
import { lidMap } from "./schema/index.ts";

export type Mapping = { lid: string; pn: string };

/**
 * Upserts many pairs in one statement: json_each keeps it to three bound
 * parameters however many pairs (D1 allows 100 per statement).
 */
export function upsertMappings(db: Db, projectId: string, mappings: Mapping[]) {
  const at = new Date().toISOString();
  return db.run(sql`
    INSERT INTO lid_map (project_id, lid, pn, updated_at)
    SELECT ${projectId}, json_extract(value, '$.lid'), json_extract(value, '$.pn'), ${at}
    FROM json_each(${JSON.stringify(mappings)}) WHERE true
    ON CONFLICT (project_id, lid) DO UPDATE SET pn = excluded.pn, updated_at = excluded.updated_at
    WHERE lid_map.pn <> excluded.pn`);
}

export async function pnForLid(db: Db, projectId: string, lid: string): Promise<string | null> {
  return (await pnForLidRead(db.$client, projectId, lid).first<{ pn: string }>())?.pn ?? null;
}

/** The phone a LID stands for, as a read for a batch (db/reads.ts), its text fixed: a received message's lookup carries it. */
export const pnForLidRead = (d1: D1Database, projectId: string, lid: string): Bound<{ pn: string }> =>
  d1.prepare("SELECT pn FROM lid_map WHERE project_id = ?1 AND lid = ?2 LIMIT 1").bind(projectId, lid);

/** True if WhatsApp told us the LID stands for this phone JID, as SQL text for a statement written once; each argument an SQL expression. */
export const pairKnownSql = (projectId: string, lid: string, pn: string) =>
  `EXISTS (SELECT 1 FROM lid_map WHERE lid_map.project_id = ${projectId} AND lid_map.lid = ${lid} AND lid_map.pn = ${pn})`;

/** The LIDs WhatsApp told us stand for any of these phone JIDs. */
export async function lidsForPns(db: Db, projectId: string, pns: string[]): Promise<string[]> {
  if (pns.length === 0) return [];
  const rows = await db
    .select({ lid: lidMap.lid })
    .from(lidMap)
    .where(and(eq(lidMap.project_id, projectId), inArray(lidMap.pn, pns)));
  return rows.map((r) => r.lid);
}

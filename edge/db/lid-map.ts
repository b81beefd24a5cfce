/** Storage for `lid_map`: what WhatsApp told us each LID stands for, per project. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
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
  const [row] = await db
    .select({ pn: lidMap.pn })
    .from(lidMap)
    .where(and(eq(lidMap.project_id, projectId), eq(lidMap.lid, lid)))
    .limit(1);
  return row?.pn ?? null;
}

/** The LIDs WhatsApp told us stand for any of these phone JIDs. */
export async function lidsForPns(db: Db, projectId: string, pns: string[]): Promise<string[]> {
  if (pns.length === 0) return [];
  const rows = await db
    .select({ lid: lidMap.lid })
    .from(lidMap)
    .where(and(eq(lidMap.project_id, projectId), inArray(lidMap.pn, pns)));
  return rows.map((r) => r.lid);
}

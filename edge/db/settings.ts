/** Storage for `project_settings`. */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { projectSettings } from "./schema/index.ts";

export async function readSettings(db: Db, projectId: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await db
    .select({ settings: projectSettings.settings })
    .from(projectSettings)
    .where(eq(projectSettings.project_id, projectId))
    .limit(1);
  return row?.settings;
}

export async function writeSettings(db: Db, projectId: string, settings: Record<string, unknown>) {
  await db
    .insert(projectSettings)
    .values({ project_id: projectId, settings })
    .onConflictDoUpdate({
      target: projectSettings.project_id,
      set: { settings, updated_at: new Date().toISOString() },
    });
}

/** The project-wide round-robin cursor, advanced atomically (D1 has one writer). */
export async function advanceProjectCursor(db: Db, projectId: string): Promise<number> {
  const [row] = await db
    .insert(projectSettings)
    .values({ project_id: projectId, settings: {}, rr_cursor: 1 })
    .onConflictDoUpdate({ target: projectSettings.project_id, set: { rr_cursor: sql`${projectSettings.rr_cursor} + 1` } })
    .returning({ cursor: projectSettings.rr_cursor });
  return row.cursor;
}

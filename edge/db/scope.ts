/**
 * Every query names the project: no caller can reach another project's row
 * by guessing an id.
 */
import { type SQL, and, eq } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/** `project_id = ? AND id = ?`: the project's row with this id. */
export const ofProject = (table: { project_id: SQLiteColumn; id: SQLiteColumn }, projectId: string, id: string): SQL =>
  and(eq(table.project_id, projectId), eq(table.id, id))!;

/** The first row a query gives, if any. */
export async function first<T>(query: PromiseLike<T[]>): Promise<T | undefined> {
  const [row] = await query;
  return row;
}

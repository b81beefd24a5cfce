/**
 * Every query names the project: no caller can reach another project's row
 * by guessing an id.
 */
import { type SQL, and, eq } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";

type ProjectTable = SQLiteTable & { project_id: SQLiteColumn; id: SQLiteColumn };

/** `project_id = ? AND id = ?`: the project's row with this id. */
export const ofProject = (table: { project_id: SQLiteColumn; id: SQLiteColumn }, projectId: string, id: string): SQL =>
  and(eq(table.project_id, projectId), eq(table.id, id))!;

/** Deletes the project's row with this id; false if it had none. */
export async function deleteOfProject(db: Db, table: ProjectTable, projectId: string, id: string): Promise<boolean> {
  const rows = await db.delete(table).where(ofProject(table, projectId, id)).returning({ id: table.id });
  return rows.length > 0;
}

/** The first row a query gives, if any. */
export async function first<T>(query: PromiseLike<T[]>): Promise<T | undefined> {
  const [row] = await query;
  return row;
}

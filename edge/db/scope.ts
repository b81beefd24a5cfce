/**
 * Every query names the project: no caller can reach another project's row
 * by guessing an id.
 */
import { type SQL, and, eq } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";

type ProjectTable = SQLiteTable & { project_id: SQLiteColumn; id: SQLiteColumn };

/** `project_id = ? AND id = ?`: the project's row with this id. */
export const ofProject = (table: { project_id: SQLiteColumn; id: SQLiteColumn }, projectId: string, id: string): SQL =>
  and(eq(table.project_id, projectId), eq(table.id, id))!;

/** Changes the project's row with this id and stamps its `updated_at`: the statement, to await or to batch. */
export function updateOfProject<T extends ProjectTable & { updated_at: SQLiteColumn }>(
  db: Db,
  table: T,
  projectId: string,
  id: string,
  patch: Partial<T["$inferInsert"]>,
) {
  return db
    .update(table)
    .set({ ...patch, updated_at: new Date().toISOString() } as SQLiteUpdateSetSource<T>)
    .where(ofProject(table, projectId, id));
}

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

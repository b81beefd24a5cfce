/** Every list in the API pages the same way: `{ data, total, limit, offset }`. */
import { type SQL, count } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client.ts";

export type Page = { limit: number; offset: number };
export type Paged<T> = { data: T[]; total: number; limit: number; offset: number };

export const paged = <T>(data: T[], total: number, page: Page): Paged<T> => ({ data, total, ...page });

/** One page of `table`'s rows that match `where`, in `order`, and how many match: one batch, one round trip. */
export async function pageOf<T extends SQLiteTable>(
  db: Db,
  table: T,
  where: SQL | undefined,
  order: SQL[],
  page: Page,
): Promise<Paged<T["$inferSelect"]>> {
  const [rows, [{ total }]] = await db.batch([
    db
      .select()
      .from(table as SQLiteTable)
      .where(where)
      .orderBy(...order)
      .limit(page.limit)
      .offset(page.offset),
    db.select({ total: count() }).from(table as SQLiteTable).where(where),
  ]);
  return paged(rows as T["$inferSelect"][], total, page);
}

import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema/index.ts";

export type Db = ReturnType<typeof build>;

const build = (d1: D1Database) => drizzle(d1, { schema });
// Building drizzle walks the whole schema: once per binding, not per query.
const cache = new WeakMap<D1Database, Db>();

export function db(d1: D1Database): Db {
  let instance = cache.get(d1);
  if (!instance) {
    instance = build(d1);
    cache.set(d1, instance);
  }
  return instance;
}

/** A statement drizzle builds. */
export type Buildable = { toSQL(): { sql: string; params: unknown[] } };

/** A statement drizzle built, as the D1 statement it runs: for a batch of hand-written ones (`env.DB.batch`). */
export function statementOf(d1: Db, query: Buildable): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return d1.$client.prepare(sql).bind(...params);
}

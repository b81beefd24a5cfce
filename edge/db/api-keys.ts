/** Storage for `api_keys`. Only hashes are stored; the key itself is shown once. */
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Db } from "./client.ts";
import { apiKeys } from "./schema/index.ts";

export async function insertApiKey(db: Db, row: { id: string; project_id: string; prefix: string; key_hash: string }) {
  const [key] = await db.insert(apiKeys).values(row).returning();
  return key;
}

/** The project of a live (not revoked) key, by the key's hash. */
export async function projectForKeyHash(db: Db, keyHash: string): Promise<string | undefined> {
  const [row] = await db
    .select({ project_id: apiKeys.project_id })
    .from(apiKeys)
    .where(and(eq(apiKeys.key_hash, keyHash), isNull(apiKeys.revoked_at)))
    .limit(1);
  return row?.project_id;
}

export async function listApiKeys(db: Db, projectId: string) {
  return db
    .select({ id: apiKeys.id, prefix: apiKeys.prefix, created_at: apiKeys.created_at, revoked_at: apiKeys.revoked_at })
    .from(apiKeys)
    .where(eq(apiKeys.project_id, projectId))
    .orderBy(desc(apiKeys.created_at));
}

/** Returns false when the project has no such live key. */
export async function revokeApiKey(db: Db, projectId: string, keyId: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revoked_at: new Date().toISOString() })
    .where(and(eq(apiKeys.project_id, projectId), eq(apiKeys.id, keyId), isNull(apiKeys.revoked_at)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

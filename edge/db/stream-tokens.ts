/** Owner of `stream_tokens`: a token is written once and spent by deleting it. */
import { and, eq, gt, lte } from "drizzle-orm";
import type { Db } from "./client.ts";
import { streamTokens } from "./schema/index.ts";

/** Stores a new token's hash, and drops the project's expired ones (nobody else clears them). */
export async function insertStreamToken(db: Db, row: { token_hash: string; project_id: string; expires_at: number }, now: number) {
  await db.batch([
    db.delete(streamTokens).where(and(eq(streamTokens.project_id, row.project_id), lte(streamTokens.expires_at, now))),
    db.insert(streamTokens).values(row),
  ]);
}

/** The token's project, if it is live; it is gone afterwards, so a second use finds nothing. */
export async function spendStreamToken(db: Db, tokenHash: string, now: number): Promise<string | undefined> {
  const [row] = await db
    .delete(streamTokens)
    .where(and(eq(streamTokens.token_hash, tokenHash), gt(streamTokens.expires_at, now)))
    .returning({ project_id: streamTokens.project_id });
  return row?.project_id;
}

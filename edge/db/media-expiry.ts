/** Storage for `outbound_media_expiry`: when each file a client sent may be deleted. */
import { asc, lte } from "drizzle-orm";
import type { Db } from "./client.ts";
import { inList, rowsOf } from "./lists.ts";
import { outboundMediaExpiry } from "./schema/index.ts";

export type MediaExpiry = typeof outboundMediaExpiry.$inferInsert;

/** For the files of a message that reached its final status; a file already scheduled keeps its time. */
export function scheduleMediaExpiry(db: Db, rows: MediaExpiry[]) {
  return db.insert(outboundMediaExpiry).select(rowsOf(outboundMediaExpiry, rows)).onConflictDoNothing();
}

/** Files whose time has come, oldest first. */
export function dueMedia(db: Db, now: string, limit: number) {
  return db
    .select({ r2_key: outboundMediaExpiry.r2_key })
    .from(outboundMediaExpiry)
    .where(lte(outboundMediaExpiry.delete_after, now))
    .orderBy(asc(outboundMediaExpiry.delete_after))
    .limit(limit);
}

export function forgetMedia(db: Db, keys: string[]) {
  return db.delete(outboundMediaExpiry).where(inList(outboundMediaExpiry.r2_key, keys));
}

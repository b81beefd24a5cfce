/** Storage for `media`: received files in the private bucket. Every query names the project. */
import { and, eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { type MediaRow, media } from "./schema/index.ts";

export async function insertMedia(db: Db, row: typeof media.$inferInsert) {
  await db.insert(media).values(row);
}

export async function findMedia(db: Db, projectId: string, id: string): Promise<MediaRow | undefined> {
  const [row] = await db
    .select()
    .from(media)
    .where(and(eq(media.project_id, projectId), eq(media.id, id)))
    .limit(1);
  return row;
}

/** A file by id alone: for signed links, whose signature already names the file. */
export async function findMediaById(db: Db, id: string): Promise<MediaRow | undefined> {
  const [row] = await db.select().from(media).where(eq(media.id, id)).limit(1);
  return row;
}

/** What the file turned out to be once it was in the bucket. */
export function mediaArrived(db: Db, projectId: string, id: string, patch: Pick<MediaRow, "size" | "mime_type" | "filename">) {
  return db
    .update(media)
    .set(patch)
    .where(and(eq(media.project_id, projectId), eq(media.id, id)));
}

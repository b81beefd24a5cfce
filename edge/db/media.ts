/** Storage for `media`: received files in the private bucket. Every query names the project. */
import { eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { first, ofProject } from "./scope.ts";
import { type MediaRow, media } from "./schema/index.ts";

export async function insertMedia(db: Db, row: typeof media.$inferInsert) {
  await db.insert(media).values(row);
}

export async function findMedia(db: Db, projectId: string, id: string): Promise<MediaRow | undefined> {
  return first(db.select().from(media).where(ofProject(media, projectId, id)).limit(1));
}

/** A file by id alone: for signed links, whose signature already names the file. */
export async function findMediaById(db: Db, id: string): Promise<MediaRow | undefined> {
  return first(db.select().from(media).where(eq(media.id, id)).limit(1));
}

/** What the file turned out to be once it was in the bucket. */
export function mediaArrived(db: Db, projectId: string, id: string, patch: Pick<MediaRow, "size" | "mime_type" | "filename">) {
  return db
    .update(media)
    .set(patch)
    .where(ofProject(media, projectId, id));
}

/** A file's row, once its bytes are gone from the bucket. */
export async function deleteMedia(db: Db, projectId: string, id: string) {
  await db.delete(media).where(ofProject(media, projectId, id));
}

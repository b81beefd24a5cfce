/** Storage for `projects`. */
import { desc } from "drizzle-orm";
import type { Db } from "./client.ts";
import { type Page, pageOf } from "./pagination.ts";
import { apiKeys, projects } from "./schema/index.ts";

type KeyRow = typeof apiKeys.$inferInsert;

/** A project is never without a key: both rows land together or neither does. */
export async function insertProjectWithKey(db: Db, project: { id: string; name: string; legacy_chat_numbers: boolean }, key: KeyRow) {
  const [[row]] = await db.batch([db.insert(projects).values(project).returning(), db.insert(apiKeys).values(key)]);
  return row;
}

export async function findProject(db: Db, id: string) {
  return db.query.projects.findFirst({ where: (p, { eq }) => eq(p.id, id) });
}

/** Whether the project's chats may have a number in a legacy object (schema/projects.ts); false for no such project. */
export async function hasLegacyChatNumbers(d1: D1Database, id: string): Promise<boolean> {
  const row = await d1.prepare("SELECT legacy_chat_numbers AS legacy FROM projects WHERE id = ?").bind(id).first<{ legacy: number }>();
  return row?.legacy === 1;
}

export async function listProjects(db: Db, page: Page) {
  return pageOf(db, projects, undefined, [desc(projects.created_at)], page);
}

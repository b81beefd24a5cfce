/** Storage for `messages` and `message_statuses`. Every query names the project. */
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "./client.ts";
import { type MessageRow, messageStatuses, messages } from "./schema.ts";

export type NewMessage = typeof messages.$inferInsert;

/** The message and its first history entry, together. */
export async function insertMessage(db: Db, row: NewMessage) {
  await db.batch([
    db.insert(messages).values(row),
    db.insert(messageStatuses).values({ message_id: row.id, status: row.status, reason: row.reason ?? null }),
  ]);
}

export async function findMessage(db: Db, projectId: string, id: string): Promise<MessageRow | undefined> {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.project_id, projectId), eq(messages.id, id)))
    .limit(1);
  return row;
}

export async function findByIdempotencyKey(db: Db, projectId: string, key: string) {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.project_id, projectId), eq(messages.idempotency_key, key)))
    .limit(1);
  return row;
}

export async function findByWaId(db: Db, projectId: string, instanceId: string, waMessageId: string) {
  const [row] = await db
    .select()
    .from(messages)
    .where(
      and(eq(messages.project_id, projectId), eq(messages.instance_id, instanceId), eq(messages.wa_message_id, waMessageId)),
    )
    .limit(1);
  return row;
}

/** A message of the project by its WhatsApp id, on whichever number. */
export async function findAnyByWaId(db: Db, projectId: string, waMessageId: string) {
  const [row] = await db
    .select({ instance_id: messages.instance_id, direction: messages.direction })
    .from(messages)
    .where(and(eq(messages.project_id, projectId), eq(messages.wa_message_id, waMessageId)))
    .limit(1);
  return row;
}

export async function statusHistory(db: Db, messageId: string) {
  return db
    .select({ status: messageStatuses.status, reason: messageStatuses.reason, at: messageStatuses.at })
    .from(messageStatuses)
    .where(eq(messageStatuses.message_id, messageId))
    .orderBy(asc(messageStatuses.id));
}

export async function messagesByIds(db: Db, projectId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.project_id, projectId), inArray(messages.id, ids)));
}

/** Statuses a message may move to a status from: never backwards (a late "sent" does not undo "read"). */
const FROM: Record<MessageRow["status"], MessageRow["status"][]> = {
  queued: [],
  sent: ["queued"],
  delivered: ["queued", "sent"],
  read: ["queued", "sent", "delivered"],
  played: ["queued", "sent", "delivered", "read"],
  failed: ["queued", "sent"],
};

/**
 * Moves a message forward (see FROM) and records the step in its history.
 * Returns false, and records nothing, when the message is already past it.
 */
export async function advanceMessageStatus(
  db: Db,
  projectId: string,
  id: string,
  patch: Partial<Pick<MessageRow, "reason" | "message_secret" | "poll_message" | "sent_at" | "wa_message_id">> & {
    status: MessageRow["status"];
  },
): Promise<boolean> {
  const at = new Date().toISOString();
  const moved = await db
    .update(messages)
    .set({ ...patch, updated_at: at })
    .where(and(eq(messages.project_id, projectId), eq(messages.id, id), inArray(messages.status, FROM[patch.status])))
    .returning({ id: messages.id });
  if (moved.length === 0) return false;
  await db.insert(messageStatuses).values({ message_id: id, status: patch.status, reason: patch.reason ?? null, at });
  return true;
}

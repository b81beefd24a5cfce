/**
 * One number's outbound queue, in its Durable Object's SQLite. Messages
 * leave in the order they were accepted. Each message has one or more parts
 * (an OTP has two), and each part's WhatsApp id is fixed when the message is
 * accepted, so a part retried after a crash is the same message to WhatsApp.
 */
import type { OutboundContent, QuotedMessage, StatusPost } from "../../shared/protocol.ts";
import { SqlTable, type SqlTableSpec } from "./sql-table.ts";

export type OutboxPart = {
  wa_message_id: string;
  /** The content, or, for secrets (OTP codes), the content sealed with POMBO_DATA_KEY. */
  content?: OutboundContent;
  sealed?: string;
  /** A reply's first part: the message it quotes. */
  quoted?: QuotedMessage;
  /** A status post: who sees it, and how a text looks. */
  status?: StatusPost;
};

export type OutboxItem = {
  message_id: string;
  project_id: string;
  chat_jid: string;
  parts: OutboxPart[];
  /** Parts before this one are sent. */
  next_part: number;
  attempts: number;
  /** A retry waits until then (ms since epoch). */
  not_before: number;
  expires_at: number;
};

type Row = Omit<OutboxItem, "parts"> & { parts: string };
const COLUMNS = "message_id, project_id, chat_jid, parts, next_part, attempts, not_before, expires_at";

export class Outbox extends SqlTable {
  static readonly table: SqlTableSpec = {
    name: "outbox",
    columns: `seq INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id TEXT NOT NULL UNIQUE,
      project_id TEXT NOT NULL,
      chat_jid TEXT NOT NULL,
      parts TEXT NOT NULL,
      next_part INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0,
      not_before INTEGER NOT NULL DEFAULT 0,
      expires_at INTEGER NOT NULL`,
  };

  constructor(sql: SqlStorage) {
    super(sql, Outbox.table);
  }

  /** Adding the same message twice keeps the first: enqueueing is idempotent. */
  add(item: Omit<OutboxItem, "next_part" | "attempts" | "not_before">): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO outbox (message_id, project_id, chat_jid, parts, expires_at) VALUES (?, ?, ?, ?, ?)",
      item.message_id,
      item.project_id,
      item.chat_jid,
      JSON.stringify(item.parts),
      item.expires_at,
    );
  }

  head(): OutboxItem | null {
    return this.#one(this.sql.exec<Row>(`SELECT ${COLUMNS} FROM outbox ORDER BY seq LIMIT 1`));
  }

  /** The message if it is still queued here. */
  find(messageId: string): OutboxItem | null {
    return this.#one(this.sql.exec<Row>(`SELECT ${COLUMNS} FROM outbox WHERE message_id = ?`, messageId));
  }

  #one(cursor: SqlStorageCursor<Row>): OutboxItem | null {
    const [row] = cursor.toArray();
    return row ? { ...row, parts: JSON.parse(row.parts) as OutboxPart[] } : null;
  }

  partSent(messageId: string, nextPart: number): void {
    this.sql.exec("UPDATE outbox SET next_part = ?, attempts = 0, not_before = 0 WHERE message_id = ?", nextPart, messageId);
  }

  retryLater(messageId: string, attempts: number, notBefore: number): void {
    this.sql.exec("UPDATE outbox SET attempts = ?, not_before = ? WHERE message_id = ?", attempts, notBefore, messageId);
  }

  remove(messageId: string): void {
    this.sql.exec("DELETE FROM outbox WHERE message_id = ?", messageId);
  }
}

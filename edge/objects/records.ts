/**
 * What one number's sends did, waiting to be written to D1, in its Durable
 * Object's SQLite. A send's outcome is known here first (WhatsApp's ack, a
 * receipt, a failure, a cancel); it is written to this journal in the same step that
 * takes the message off the outbox, so a crash or a D1 outage between the
 * two never leaves a sent message `queued`. The sender drains the journal in
 * order; an entry D1 has and the project heard of is applied, and deleted
 * with the next write the object makes anyway (sender.ts says why).
 */
import type { MessageStatusEvent } from "../../shared/protocol.ts";
import type { MediaExpiry } from "../db/media-expiry.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Usage } from "../services/pacing.ts";
import { SqlTable, type SqlTableSpec } from "./sql-table.ts";

export type SendRecord =
  /** WhatsApp took the message: it turns `sent`, and the number's counters are mirrored. */
  | {
      kind: "sent";
      project_id: string;
      message_id: string;
      sent_at: string;
      message_secret: string | null;
      poll_message: string | null;
      usage: Usage;
      /** Its chat, to file it in the move's batch (absent in entries written before it was recorded: filed after the move). */
      chat_jid?: string;
      /** Its files, to delete once kept long enough (media-retention.ts). */
      media_expiry?: MediaExpiry[];
    }
  | { kind: "failed"; project_id: string; message_id: string; reason: string; media_expiry?: MediaExpiry[] }
  /** The client called a queued message off (DELETE /messages/{id}): it turns `canceled`; it never left. */
  | { kind: "canceled"; project_id: string; message_id: string; media_expiry?: MediaExpiry[] }
  /** A receipt or a late server verdict, by WhatsApp id. */
  | { kind: "receipt"; project_id: string; event: MessageStatusEvent }
  /** Written to D1; the project is still to hear of it (an event). `filed`: a sent message joined its conversation in the move's batch. */
  | { kind: "announce"; row: MessageRow; filed?: boolean };

export type JournalEntry = { seq: number; record: SendRecord; attempts: number };

type Row = { seq: number; record: string; attempts: number };

export class Journal extends SqlTable {
  static readonly table: SqlTableSpec = {
    name: "send_records",
    columns: "seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0",
  };

  constructor(sql: SqlStorage) {
    super(sql, Journal.table);
  }

  add(record: SendRecord): void {
    this.sql.exec("INSERT INTO send_records (record) VALUES (?)", JSON.stringify(record));
  }

  /** The oldest entry after `after` (the entries up to it are applied). */
  head(after = 0): JournalEntry | null {
    const [row] = this.sql.exec<Row>("SELECT seq, record, attempts FROM send_records WHERE seq > ? ORDER BY seq LIMIT 1", after).toArray();
    return row ? { seq: row.seq, record: JSON.parse(row.record) as SendRecord, attempts: row.attempts } : null;
  }

  /** The entry's next step (written, still to announce), tried afresh. */
  replace(seq: number, record: SendRecord): void {
    this.sql.exec("UPDATE send_records SET record = ?, attempts = 0 WHERE seq = ?", JSON.stringify(record), seq);
  }

  failed(seq: number): number {
    return this.sql.exec<{ attempts: number }>("UPDATE send_records SET attempts = attempts + 1 WHERE seq = ? RETURNING attempts", seq).one().attempts;
  }

  /** Deletes the entries up to `seq` (applied). */
  removeThrough(seq: number): void {
    this.sql.exec("DELETE FROM send_records WHERE seq <= ?", seq);
  }
}

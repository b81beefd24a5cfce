/**
 * One number's read receipts waiting to reach WhatsApp, in its Durable
 * Object's SQLite. A receipt the API accepted (or `auto_read` queued) is
 * written here first, so it survives the number being offline, the fleet
 * restarting or the object being evicted; it leaves the table only once the
 * fleet answered that the socket sent it. Sending one twice (an answer lost
 * on the way back) is harmless: WhatsApp takes a repeated read receipt as
 * the same one.
 *
 * They go out in batches (`MAX_RECEIPTS_PER_CALL`) whenever the number is
 * connected: when one is queued, when the number comes online, and on the
 * object's alarm after a failed attempt (backoff up to RETRY_MAX_MS).
 */
import { MAX_RECEIPTS_PER_CALL, ProtocolError, type ReadReceiptKey } from "../../shared/protocol.ts";
import type { RpcPeer } from "../../shared/rpc.ts";
import { wakeAt } from "./alarm.ts";
import { SqlTable, type SqlTableSpec } from "./sql-table.ts";

const CALL_TIMEOUT_MS = 20_000;
const RETRY_MAX_MS = 60_000;

/** What the courier needs from the object it lives in. */
export type ReceiptsHost = {
  ctx: DurableObjectState;
  /** The live lease holder's peer when the number is connected, else null. */
  readyFleet(): Promise<RpcPeer | null>;
};

type Row = { chat_jid: string; wa_message_id: string; participant: string | null };

export class ReadReceipts extends SqlTable {
  static readonly table: SqlTableSpec = {
    name: "read_receipts",
    columns: `seq INTEGER PRIMARY KEY AUTOINCREMENT,
      chat_jid TEXT NOT NULL,
      wa_message_id TEXT NOT NULL,
      participant TEXT,
      UNIQUE (chat_jid, wa_message_id)`,
  };

  readonly #host: ReceiptsHost;
  #sending = false;
  #failures = 0;

  constructor(host: ReceiptsHost) {
    super(host.ctx.storage.sql, ReadReceipts.table);
    this.#host = host;
  }

  /** Queues receipts (one already waiting stays as it is) and sends them if the number is online. */
  add(keys: readonly ReadReceiptKey[]): void {
    for (const key of keys) {
      this.sql.exec(
        "INSERT OR IGNORE INTO read_receipts (chat_jid, wa_message_id, participant) VALUES (?, ?, ?)",
        key.chat_jid,
        key.wa_message_id,
        key.participant ?? null,
      );
    }
    this.wake();
  }

  /** Send what waits, in the background; the object stays up until it is done. */
  wake(): void {
    this.#host.ctx.waitUntil(this.send());
  }

  /** Sends every waiting receipt, oldest first; stops (and retries on the alarm) when the fleet cannot take them. */
  async send(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      for (let batch = this.#oldest(); batch.length > 0; batch = this.#oldest()) {
        const fleet = await this.#host.readyFleet();
        // Offline: the number coming online wakes us.
        if (!fleet) return;
        try {
          await fleet.call("messages.read", { keys: batch.map(({ seq: _, ...key }) => key) }, CALL_TIMEOUT_MS);
        } catch (err) {
          await this.#retryLater(err);
          return;
        }
        this.#failures = 0;
        this.sql.exec("DELETE FROM read_receipts WHERE seq <= ?", batch.at(-1)!.seq);
      }
    } finally {
      this.#sending = false;
    }
  }

  #oldest(): (Row & { seq: number })[] {
    return this.sql
      .exec<Row & { seq: number }>("SELECT seq, chat_jid, wa_message_id, participant FROM read_receipts ORDER BY seq LIMIT ?", MAX_RECEIPTS_PER_CALL)
      .toArray();
  }

  async #retryLater(err: unknown): Promise<void> {
    this.#failures++;
    const delay = Math.min(RETRY_MAX_MS, 1_000 * 2 ** (this.#failures - 1));
    const code = err instanceof ProtocolError ? err.code : "failed";
    console.warn(`read receipts: the fleet did not send ${this.size()} receipts (${code}); again in ${delay} ms`);
    await wakeAt(this.#host.ctx.storage, Date.now() + delay);
  }
}

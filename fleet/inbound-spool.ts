/**
 * The inbound spool: received messages on this process's disk, from before
 * WhatsApp hears we have them until the edge says it stored them.
 *
 * WhatsApp never sends a message again once it was acknowledged, so the
 * message must be somewhere durable first: Baileys' `beforeMessageAck` hook
 * (patched in, see patches/) writes it here, and only then does the receipt
 * leave. The drainer (inbound-drainer.ts) reads it back and deletes a row
 * only once the edge answered.
 *
 * One SQLite file per process (node:sqlite, built into Node), in
 * POMBO_FLEET_DATA_DIR (spool-files.ts makes, locks and adopts them):
 *
 *  - WAL with `synchronous = FULL`: each row is fsynced before the hook
 *    returns, so a message survives a SIGKILL and a power cut alike (NORMAL
 *    would survive the first but not the second, and the ack is already gone).
 *  - `locking_mode = EXCLUSIVE`, plus a write at open: the file stays locked
 *    while its process lives, and the OS drops the lock when it dies, however
 *    it dies. A process adopts every other spool file in the directory whose
 *    lock it can take (a crashed sibling's, or its own previous life's: fleet
 *    ids are random per process): it copies their rows into its own file,
 *    then deletes theirs. A row copied twice (a crash in between) is the
 *    same message to the edge, which keeps it once (edge/services/inbound.ts
 *    says which layer guarantees that, and why the others, this one's
 *    UNIQUE key included, exist).
 *  - Payloads are sealed by the caller (spooled-message.ts); what is in clear
 *    is which instance, chat and WhatsApp id a row is for.
 *
 * Never dropping means slowing down instead: past `maxRows`, or below
 * `minFreeBytes` free on the disk, `admit()` waits for the drainer, which
 * holds Baileys (it handles a socket's messages one at a time) and so holds
 * WhatsApp's acknowledgements back. A disk that fills anyway makes the write
 * fail, and Baileys then nacks the message: WhatsApp keeps it.
 */
import { readdirSync, statfsSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "pino";
import { errorText } from "./errors.ts";
import { SPOOL_COLUMNS, adoptSpoolFile, createSpoolFile, isSpoolFileName } from "./spool-files.ts";

export type SpoolRow = {
  seq: number;
  instance_id: string;
  chat_jid: string;
  wa_message_id: string;
  /** Delivered while the number was offline (Baileys `append`). */
  offline: boolean;
  /** Unix ms, when this process got it. */
  received_at: number;
  /** Sealed (spooled-message.ts). */
  payload: Uint8Array;
};
export type NewSpoolRow = Omit<SpoolRow, "seq">;

export type InboundSpoolOptions = {
  dir: string;
  logger: Logger;
  /** Rows past which writers wait for the drainer. */
  maxRows: number;
  /** Free bytes on the spool's disk below which writers wait. */
  minFreeBytes: number;
  /** How often a waiting writer looks again (disk space frees without telling anyone). */
  recheckMs?: number;
  /** Free bytes on the disk holding `dir`; tests fill the disk this way. */
  freeBytes?: (dir: string) => number;
};

export class SpoolClosed extends Error {
  constructor() {
    super("the inbound spool is closed");
    this.name = "SpoolClosed";
  }
}

export class InboundSpool {
  readonly path: string;
  readonly dir: string;
  #db: DatabaseSync;
  #logger: Logger;
  #maxRows: number;
  #minFreeBytes: number;
  #recheckMs: number;
  #freeBytes: (dir: string) => number;
  #insert: ReturnType<DatabaseSync["prepare"]>;
  #page: ReturnType<DatabaseSync["prepare"]>;
  #delete: ReturnType<DatabaseSync["prepare"]>;
  #hold: ReturnType<DatabaseSync["prepare"]>;
  #size: number;
  #held: number;
  #closed = false;
  #full = false;
  #roomWaiters = new Set<() => void>();
  #addedListeners = new Set<() => void>();
  #emptyListeners = new Set<() => void>();

  /** Creates this process's spool file in `dir` (0700), holding its lock until the process ends or `close()`. */
  static open(opts: InboundSpoolOptions): InboundSpool {
    const { path, db } = createSpoolFile(opts.dir);
    return new InboundSpool(opts, path, db);
  }

  private constructor(opts: InboundSpoolOptions, path: string, db: DatabaseSync) {
    this.path = path;
    this.dir = opts.dir;
    this.#db = db;
    this.#logger = opts.logger;
    this.#maxRows = opts.maxRows;
    this.#minFreeBytes = opts.minFreeBytes;
    this.#recheckMs = opts.recheckMs ?? 1_000;
    this.#freeBytes = opts.freeBytes ?? diskFreeBytes;
    this.#insert = db.prepare(`INSERT OR IGNORE INTO inbound (${SPOOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)`);
    this.#page = db.prepare(
      "SELECT seq, instance_id, chat_jid, wa_message_id, offline, received_at, payload FROM inbound WHERE seq > ? AND held IS NULL ORDER BY seq LIMIT ?",
    );
    this.#delete = db.prepare("DELETE FROM inbound WHERE seq = ?");
    this.#hold = db.prepare("UPDATE inbound SET held = ? WHERE seq = ? AND held IS NULL");
    this.#size = 0;
    this.#held = 0;
    this.#recount();
  }

  /** Rows on disk, waiting or held back. */
  get size(): number {
    return this.#size;
  }

  /** Rows still to deliver (not held back as unreadable). */
  get waiting(): number {
    return this.#size - this.#held;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves once there is room for another row; until then the caller (the
   * WhatsApp socket, through Baileys' hook) waits. Throws once closed.
   */
  async admit(): Promise<void> {
    while (!this.#hasRoom()) {
      if (!this.#full) {
        this.#full = true;
        this.#logger.warn(
          { rows: this.#size, max_rows: this.#maxRows, free_bytes: this.#freeBytes(this.dir), min_free_bytes: this.#minFreeBytes },
          "inbound spool full: holding WhatsApp's acknowledgements until the edge takes some messages",
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#roomWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, this.#recheckMs);
        this.#roomWaiters.add(done);
      });
    }
    if (this.#full) {
      this.#full = false;
      this.#logger.info({ rows: this.#size }, "inbound spool has room again");
    }
  }

  /**
   * Writes one row, durably, before returning. False if that instance
   * already has a row for that WhatsApp id (a message Baileys upserts after
   * the hook wrote it, or a replay). Throws SpoolClosed, or SQLite's error
   * (a full disk): the caller must not acknowledge the message then.
   */
  put(row: NewSpoolRow): boolean {
    if (this.#closed) throw new SpoolClosed();
    const { changes } = this.#insert.run(
      row.instance_id,
      row.chat_jid,
      row.wa_message_id,
      row.offline ? 1 : 0,
      row.received_at,
      row.payload,
    );
    if (Number(changes) === 0) return false;
    this.#size++;
    for (const listener of this.#addedListeners) listener();
    return true;
  }

  /** Up to `limit` rows to deliver with `seq` above `afterSeq`, oldest first. */
  page(afterSeq: number, limit: number): SpoolRow[] {
    if (this.#closed) return [];
    return this.#page.all(afterSeq, limit).map((r) => ({
      seq: Number(r.seq),
      instance_id: String(r.instance_id),
      chat_jid: String(r.chat_jid),
      wa_message_id: String(r.wa_message_id),
      offline: Number(r.offline) === 1,
      received_at: Number(r.received_at),
      payload: r.payload as Uint8Array,
    }));
  }

  /** The edge has it (or refused it for good): the row goes. A closed spool keeps it; the edge drops the repeat later. */
  remove(seq: number): void {
    if (this.#closed) return;
    if (Number(this.#delete.run(seq).changes) === 0) return;
    this.#size--;
    this.#changed();
  }

  /** Keeps a row this process cannot deliver (unreadable with its key, refused by the edge) out of the way, on disk, with why. */
  hold(seq: number, reason: string): void {
    if (this.#closed) return;
    if (Number(this.#hold.run(reason, seq).changes) === 0) return;
    this.#held++;
    this.#changed();
  }

  /** Called after each new row. */
  onAdded(listener: () => void): () => void {
    this.#addedListeners.add(listener);
    return () => this.#addedListeners.delete(listener);
  }

  /** Called whenever nothing is left to deliver. */
  onEmpty(listener: () => void): () => void {
    this.#emptyListeners.add(listener);
    return () => this.#emptyListeners.delete(listener);
  }

  /**
   * Takes over the spool files of processes that are gone: every file in the
   * directory but ours whose lock can be taken. Returns the rows adopted.
   */
  adopt(): number {
    if (this.#closed) return 0;
    let adopted = 0;
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (!isSpoolFileName(name) || path === this.path) continue;
      try {
        adopted += adoptSpoolFile(this.#db, path, this.#logger);
      } catch (err) {
        this.#logger.error({ file: path, err: errorText(err) }, "spool file not adopted");
      }
    }
    if (adopted > 0) {
      this.#recount();
      for (const listener of this.#addedListeners) listener();
    }
    return adopted;
  }

  /** Releases the lock; the rows stay on disk for whichever process adopts the file next. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#roomWaiters) wake();
    this.#db.close();
  }

  #hasRoom(): boolean {
    if (this.#closed) throw new SpoolClosed();
    return this.#size < this.#maxRows && this.#freeBytes(this.dir) >= this.#minFreeBytes;
  }

  #changed(): void {
    for (const wake of this.#roomWaiters) wake();
    if (this.waiting === 0) for (const listener of this.#emptyListeners) listener();
  }

  #recount(): void {
    const counts = this.#db.prepare("SELECT count(*) AS size, count(held) AS held FROM inbound").get() as { size: number; held: number };
    this.#size = Number(counts.size);
    this.#held = Number(counts.held);
  }
}

function diskFreeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}

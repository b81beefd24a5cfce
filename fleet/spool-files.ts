/**
 * The inbound spool's files on disk (inbound-spool.ts says what they are
 * for): one SQLite file per process, its name and schema, the lock it holds
 * while its process lives, and taking over the file of a process that is gone.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Logger } from "pino";

const PREFIX = "inbound-";
const SUFFIX = ".spool";
const SCHEMA_VERSION = 1;
/** A file this old and still empty is a process that died before writing its first page. */
const STILLBORN_MS = 60_000;
const SQLITE_BUSY = 5;

export const SPOOL_COLUMNS = "instance_id, chat_jid, wa_message_id, offline, received_at, payload, held";

/** Creates this process's spool file in `dir` (0700) and takes its lock, held until the process ends or the file is closed. */
export function createSpoolFile(dir: string): { path: string; db: DatabaseSync } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${PREFIX}${process.pid}-${randomBytes(4).toString("hex")}${SUFFIX}`);
  // Created private: SQLite gives its -wal file the mode of the database file.
  closeSync(openSync(path, "wx", 0o600));
  return { path, db: openLocked(path) };
}

export function isSpoolFileName(name: string): boolean {
  return name.startsWith(PREFIX) && name.endsWith(SUFFIX);
}

/**
 * Moves the rows of another process's spool file at `path` into `ours` and
 * deletes that file, if its process is gone (its lock can be taken). Returns
 * the rows moved: 0 when its process is alive.
 */
export function adoptSpoolFile(ours: DatabaseSync, path: string, logger: Logger): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (stat.size === 0) {
    // Either a sibling that is opening it this very moment (it locks it before writing a byte), or one that never did.
    if (Date.now() - stat.mtimeMs > STILLBORN_MS) removeSpoolFile(path);
    return 0;
  }
  let other: DatabaseSync;
  try {
    other = openLocked(path);
  } catch (err) {
    if (isBusy(err)) return 0; // its process is alive
    throw err;
  }
  let moved = 0;
  try {
    // One transaction on our side: the rows are ours all at once or not at all. Theirs go only after.
    ours.exec("BEGIN IMMEDIATE");
    try {
      const rows = other.prepare(`SELECT ${SPOOL_COLUMNS} FROM inbound ORDER BY seq`).iterate();
      const insert = ours.prepare(`INSERT OR IGNORE INTO inbound (${SPOOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      for (const r of rows) {
        insert.run(
          r.instance_id as string,
          r.chat_jid as string,
          r.wa_message_id as string,
          r.offline as number,
          r.received_at as number,
          r.payload as Uint8Array,
          // Held back by the process that is gone (unreadable, refused): a new process, maybe with the
          // right key or facing a fixed edge, tries again; it holds them again if nothing changed.
          null,
        );
        moved++;
      }
      ours.exec("COMMIT");
    } catch (err) {
      ours.exec("ROLLBACK");
      throw err;
    }
    other.exec("DELETE FROM inbound");
  } finally {
    other.close();
  }
  removeSpoolFile(path);
  logger.warn({ file: path, rows: moved }, "adopted the spool of a process that is gone");
  return moved;
}

/**
 * Opens a spool file and takes its lock, or throws SQLITE_BUSY if a live
 * process holds it. EXCLUSIVE is set before WAL so no shared-memory index is
 * made, and the write at the end takes the lock for good.
 */
function openLocked(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: 0 });
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    const version = Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
    if (version > SCHEMA_VERSION) throw new Error(`spool schema v${version} is newer than this fleet's v${SCHEMA_VERSION}`);
    db.exec(`
      BEGIN IMMEDIATE;
      CREATE TABLE IF NOT EXISTS inbound (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_id TEXT NOT NULL,
        chat_jid TEXT NOT NULL,
        wa_message_id TEXT NOT NULL,
        offline INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        payload BLOB NOT NULL,
        held TEXT,
        UNIQUE (instance_id, wa_message_id)
      );
      PRAGMA user_version = ${SCHEMA_VERSION};
      COMMIT;
    `);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function isBusy(err: unknown): boolean {
  return (err as { errcode?: number }).errcode === SQLITE_BUSY;
}

function removeSpoolFile(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(file, { force: true });
}


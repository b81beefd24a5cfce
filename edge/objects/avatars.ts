/**
 * Contacts whose WhatsApp picture one number is to fetch
 * (services/contact-avatars.ts says who is due), in its Durable Object's
 * SQLite. Queuing one is a single local insert, so the received message that
 * found the contact due waits for nothing; the fetch runs later, on the
 * object's alarm, one picture per AVATAR_GAP_MS (services/contact-avatars.ts
 * says why), so a wave of first contacts reaches WhatsApp as a slow trickle
 * rather than a burst of picture queries. A row leaves once its answer is
 * stored, so a picture is asked for again after an eviction or a fleet
 * restart.
 *
 * In the object rather than a queue: only this number may ask (it is the
 * one that talks to the person), only while it is connected, and the
 * object already knows both and wakes when the number comes back.
 */
import { ProtocolError } from "../../shared/protocol.ts";
import type { RpcPeer } from "../../shared/rpc.ts";
import type { Env } from "../env.ts";
import { AVATAR_GAP_MS, saveAvatar } from "../services/contact-avatars.ts";
import type { InstanceStorage } from "./instance-storage.ts";
import { wakeAt } from "./alarm.ts";
import { SqlTable, type SqlTableSpec } from "./sql-table.ts";

const CALL_TIMEOUT_MS = 20_000;
const RETRY_MAX_MS = 15 * 60_000;
/** Most contacts waiting: a flood of first contacts must not grow the object without bound (one left out is queued by their next message). */
const MAX_WAITING = 1_000;
/** Failed fetches of one contact before it leaves the queue (their next message queues them again). */
const MAX_ATTEMPTS = 5;
/**
 * WhatsApp answered `rate-overlimit`: it is telling the number to slow down,
 * and asking again soon is the pattern that gets numbers flagged, so the
 * backoff starts minutes out rather than seconds.
 */
const OVERLIMIT_BACKOFF_MS = 2 * 60_000;

export type AvatarsHost = {
  ctx: DurableObjectState;
  env: Env;
  /** Holds `avatars_not_before`, so the pace survives an eviction. */
  storage: InstanceStorage;
  scope(): Promise<{ project_id: string; instance_id: string }>;
  /** The live lease holder's peer when the number is connected, else null. */
  readyFleet(): Promise<RpcPeer | null>;
};

type Row = { contact_id: string; jid: string };
type Waiting = Row & { queued_at: number };

export class AvatarFetches extends SqlTable {
  static readonly table: SqlTableSpec = {
    name: "avatar_fetches",
    columns: `contact_id TEXT PRIMARY KEY,
      jid TEXT NOT NULL,
      queued_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0`,
  };

  readonly #host: AvatarsHost;
  #fetching = false;
  #again = false;
  #waiting: Set<string> | null = null;
  #failures = 0;

  constructor(host: AvatarsHost) {
    super(host.ctx.storage.sql, AvatarFetches.table);
    this.#host = host;
  }

  /** Queues a contact (one already waiting stays as it is); its picture is asked for no sooner than AVATAR_GAP_MS from now. */
  add(contact: Row): void {
    // A contact stays due until their picture is stored, so every message of theirs until then lands here:
    // one already waiting costs nothing (a statement, even one that writes nothing, is a storage commit).
    const waiting = this.#waitingIds();
    if (waiting.has(contact.contact_id) || waiting.size >= MAX_WAITING) return;
    const now = Date.now();
    this.sql.exec("INSERT OR IGNORE INTO avatar_fetches (contact_id, jid, queued_at) VALUES (?, ?, ?)", contact.contact_id, contact.jid, now);
    waiting.add(contact.contact_id);
    // Nothing to ask yet: the alarm's pass looks at the pace then (an earlier alarm re-arms for it).
    this.#host.ctx.waitUntil(wakeAt(this.#host.ctx.storage, now + AVATAR_GAP_MS));
  }

  /** Who waits, read once per object's life and then kept with the table (at most MAX_WAITING ids). */
  #waitingIds(): Set<string> {
    this.#waiting ??= new Set(this.sql.exec<{ contact_id: string }>("SELECT contact_id FROM avatar_fetches").toArray().map((r) => r.contact_id));
    return this.#waiting;
  }

  wake(): void {
    this.#host.ctx.waitUntil(this.fetchAll());
  }

  /**
   * Fetches what is due, oldest first, one at a time and AVATAR_GAP_MS
   * apart; what is not due yet is left to the object's alarm, set for when
   * it is. Stops (and retries on the alarm, after a backoff) when the fleet
   * cannot. A contact that failed goes to the back, so one picture that
   * cannot be had never holds up the rest.
   */
  async fetchAll(): Promise<void> {
    // A pass asked for while one runs (the alarm, the number coming back)
    // runs after it: the one in flight may already be past what it was for.
    if (this.#fetching) {
      this.#again = true;
      return;
    }
    this.#fetching = true;
    this.#again = false;
    try {
      for (let next = this.#oldest(); next; next = this.#oldest()) {
        const dueAt = Math.max(next.queued_at + AVATAR_GAP_MS, (await this.#host.storage.get("avatars_not_before")) ?? 0);
        if (dueAt > Date.now()) {
          await wakeAt(this.#host.ctx.storage, dueAt);
          return;
        }
        const fleet = await this.#host.readyFleet();
        // Offline: the number coming online wakes us.
        if (!fleet) return;
        try {
          const picture = await fleet.call("profile.picture", { jid: next.jid }, CALL_TIMEOUT_MS);
          await saveAvatar(this.#host.env, await this.#host.scope(), next.contact_id, picture);
        } catch (err) {
          // A JID WhatsApp cannot have a picture for is not worth asking again (the fleet refused it without asking).
          if (err instanceof ProtocolError && err.code === "invalid_jid") {
            this.#done(next.contact_id);
            continue;
          }
          await this.#retryLater(next.contact_id, err);
          return;
        }
        this.#failures = 0;
        this.#done(next.contact_id);
        void this.#host.storage.put("avatars_not_before", Date.now() + AVATAR_GAP_MS);
      }
    } finally {
      this.#fetching = false;
      if (this.#again) this.wake();
    }
  }

  #failed(contactId: string): void {
    this.sql.exec("UPDATE avatar_fetches SET attempts = attempts + 1, queued_at = ? WHERE contact_id = ?", Date.now(), contactId);
    const gone = this.sql.exec("DELETE FROM avatar_fetches WHERE contact_id = ? AND attempts >= ?", contactId, MAX_ATTEMPTS).rowsWritten;
    if (gone > 0) this.#waiting?.delete(contactId);
  }

  #done(contactId: string): void {
    this.sql.exec("DELETE FROM avatar_fetches WHERE contact_id = ?", contactId);
    this.#waiting?.delete(contactId);
  }

  #oldest(): Waiting | undefined {
    return this.sql.exec<Waiting>("SELECT contact_id, jid, queued_at FROM avatar_fetches ORDER BY queued_at LIMIT 1").toArray()[0];
  }

  /**
   * No picture is asked for before the backoff ends, whoever is queued
   * meanwhile. Over the limit, the contact keeps its place and its attempts:
   * WhatsApp refused the number, not this picture.
   */
  async #retryLater(contactId: string, err: unknown): Promise<void> {
    const code = err instanceof ProtocolError ? err.code : "failed";
    const overlimit = code === "rate_overlimit";
    if (!overlimit) this.#failed(contactId);
    this.#failures++;
    const delay = Math.min(RETRY_MAX_MS, (overlimit ? OVERLIMIT_BACKOFF_MS : 5_000) * 2 ** (this.#failures - 1));
    console.warn(`avatars: the fleet did not fetch a picture (${code}); ${this.size()} waiting, again in ${delay} ms`);
    const at = Date.now() + delay;
    await Promise.all([this.#host.storage.put("avatars_not_before", at), wakeAt(this.#host.ctx.storage, at)]);
  }
}

/**
 * The number's record of what happened to its messages (sent, failed,
 * canceled, receipts), drained to D1 and announced to the project. A record
 * enters the journal (records.ts) in the same step that takes its message
 * off the outbox, so a crash or a D1 outage between the two never leaves a
 * sent message `queued`; the drain writes the journal in order, behind the
 * sends, and an entry D1 or the hub refuses is retried (alarm, backoff up to
 * RECORD_RETRY_MAX_MS) until it lands. Entries a crash interrupted are
 * drained when the object next starts.
 *
 * An entry written to D1 and announced is applied: remembered in memory
 * (`#appliedThrough`; the drain runs in order, so the applied entries are
 * the journal's oldest) and deleted in the same turn as the object's next
 * write (the next record, enqueue or alarm), not in a storage commit of its
 * own. One that a restart finds is applied again, harmlessly: its D1 write
 * moves nothing, a `sent` one announces the message D1 holds as sent
 * (#sentBefore), and the hub refuses that event, whose id is made from the
 * message (services/events.ts). A number that makes no write within
 * APPLIED_LINGER_MS deletes them in a commit of their own, as before: its
 * object may hibernate next, and every wake would replay what it left
 * (a D1 batch and a hub call, several times the commit saved). So the
 * commit is saved where it counts, on a busy number: its next send's step,
 * or the receipt that follows a send within a second or two.
 */
import type { InstanceStatusPatch } from "../db/instances.ts";
import { db } from "../db/client.ts";
import { findMessage } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { avatarDue, avatarJid } from "../services/contact-avatars.ts";
import { publish } from "../services/events.ts";
import type { IncidentKind } from "../services/health.ts";
import { scheduleExpiry } from "../services/media-retention.ts";
import { waIdOf } from "../services/message-payload.ts";
import { applyReceipt, cancelQueued, markFailed, markSent } from "../services/message-status.ts";
import { type Link, fileInMove, recordSent } from "../services/sent-messages.ts";
import { wakeAt } from "./alarm.ts";
import { Journal, type JournalEntry, type SendRecord } from "./records.ts";

/** What the drain needs from the Durable Object it lives in. */
export type DrainHost = {
  ctx: DurableObjectState;
  env: Env;
  instanceId(): Promise<string | null>;
  incident(kind: IncidentKind): Promise<void>;
  /** The D1 write mirroring these columns of the number's row, for the batch of a send's move (none: no row yet). */
  mirrorWrites(patch: InstanceStatusPatch): Promise<D1PreparedStatement[]>;
  /** A contact this number wrote to whose picture is due (objects/avatars.ts). */
  fetchAvatar(contact: { contact_id: string; jid: string }): void;
};

/** How long an applied journal entry waits for a write to ride on before it is deleted on its own (see the header). */
const APPLIED_LINGER_MS = 2_000;
/** A journal entry D1 refused is tried again after 1 s, doubling up to this. */
const RECORD_RETRY_MAX_MS = 60_000;

export class RecordDrain {
  readonly journal: Journal;
  #host: DrainHost;
  #draining = false;
  /** After a refusal, the journal waits for its alarm (new records do not hurry it). */
  #retryAt = 0;
  /** The drain running now, if any. */
  #drained: Promise<void> = Promise.resolve();
  /** The journal's entries up to this seq are applied, still to delete with the next write (see the header). */
  #appliedThrough = 0;
  #lingering: ReturnType<typeof setTimeout> | null = null;

  constructor(host: DrainHost) {
    this.#host = host;
    this.journal = new Journal(host.ctx.storage.sql);
    // Left by a crash before they were drained: the object is back (the fleet reconnected, a send came), so is D1 perhaps.
    if (this.journal.head()) this.drain();
  }

  /** Resolves when the drain running now (if any) has stopped. */
  get drained(): Promise<void> {
    return this.#drained;
  }

  /** The object's alarm rang: a refused entry may be tried again now. */
  retryNow(): void {
    this.#retryAt = 0;
  }

  /** A record enters the journal (with the applied entries' delete: one commit) and the drain starts. */
  record(record: SendRecord): void {
    // Same turn, one commit: the applied entries go with the new one.
    this.removeApplied();
    this.journal.add(record);
    this.drain();
  }

  /** Deletes the applied entries; called only beside a write the object makes anyway. */
  removeApplied(): void {
    if (this.#lingering) clearTimeout(this.#lingering);
    this.#lingering = null;
    if (this.#appliedThrough === 0) return;
    this.journal.removeThrough(this.#appliedThrough);
    this.#appliedThrough = 0;
  }

  #applied(seq: number): void {
    this.#appliedThrough = seq;
    this.#lingering ??= setTimeout(() => {
      this.#lingering = null;
      this.removeApplied();
    }, APPLIED_LINGER_MS);
  }

  /** Writes the journal to D1, oldest first, in the background; one drain at a time. */
  drain(): void {
    if (this.#draining) return;
    if (Date.now() < this.#retryAt) {
      // The alarm is one slot: make sure the retry still has it.
      this.#host.ctx.waitUntil(wakeAt(this.#host.ctx.storage, this.#retryAt));
      return;
    }
    this.#draining = true;
    const run = async () => {
      try {
        for (let entry = this.journal.head(this.#appliedThrough); entry; entry = this.journal.head(this.#appliedThrough)) {
          if (!(await this.#apply(entry))) return;
        }
      } finally {
        this.#draining = false;
      }
    };
    this.#drained = run();
    this.#host.ctx.waitUntil(this.#drained);
  }

  /** One entry's next step; false (retry set) when D1 or the event hub refused it. */
  async #apply(entry: JournalEntry): Promise<boolean> {
    const { seq, record } = entry;
    let written: Extract<SendRecord, { kind: "announce" }> | null = null;
    try {
      const announce = record.kind === "announce" ? record : await this.#write(record);
      if (announce && announce !== record) {
        written = announce;
        // Written: kept as such (a crash before its event must neither write it again nor lose the event), announced from memory.
        // Not a `sent` record, the one every send makes: written again after a crash it moves nothing and announces the
        // message D1 holds as sent (#sentBefore), so its event is not lost either, and a send costs one storage commit less.
        if (record.kind !== "sent") this.journal.replace(seq, announce);
      }
      if (announce) await this.#announce(announce);
      this.#applied(seq);
      return true;
    } catch (err) {
      // Written, its event refused: the retry announces it, without writing it again.
      if (written && record.kind === "sent") this.journal.replace(seq, written);
      const attempts = this.journal.failed(seq);
      const delay = Math.min(RECORD_RETRY_MAX_MS, 1_000 * 2 ** (attempts - 1));
      this.#retryAt = Date.now() + delay;
      console.error(`send records: writing a send's ${record.kind} record failed (attempt ${attempts}, again in ${delay} ms):`, err instanceof Error ? err.message : err);
      await wakeAt(this.#host.ctx.storage, this.#retryAt);
      return false;
    }
  }

  /** The D1 side of a record: its announcement (the message row it moved), or null when there was nothing to move. */
  async #write(record: Exclude<SendRecord, { kind: "announce" }>): Promise<Extract<SendRecord, { kind: "announce" }> | null> {
    const d1 = db(this.#host.env.DB);
    const announce = (row: MessageRow | null) => (row ? { kind: "announce" as const, row } : null);
    if (record.kind === "sent") return this.#writeSent(record);
    if (record.kind === "failed") {
      await scheduleExpiry(this.#host.env, record.media_expiry ?? []);
      return announce(await markFailed(d1, record.project_id, record.message_id, record.reason));
    }
    if (record.kind === "canceled") {
      await scheduleExpiry(this.#host.env, record.media_expiry ?? []);
      return announce(await cancelQueued(d1, record.project_id, record.message_id));
    }
    const { event } = record;
    const instanceId = await this.#host.instanceId();
    if (!instanceId) return null;
    const moved = await applyReceipt(d1, record.project_id, instanceId, event);
    // 463 and friends: WhatsApp refused the message; the number is in trouble (counted once, as it moved).
    if (moved?.status === "failed") await this.#host.incident("server_error").catch(() => {});
    return announce(moved);
  }

  /**
   * The move to `sent`, in one D1 batch with the number's counters (setting
   * them again on a retry is harmless) and, in the common case, the
   * message's filing under its contact and conversation (sent-messages.ts).
   */
  async #writeSent(record: Extract<SendRecord, { kind: "sent" }>): Promise<Extract<SendRecord, { kind: "announce" }> | null> {
    const d1 = db(this.#host.env.DB);
    const { usage } = record;
    const counters = await this.#host.mirrorWrites({ sent_today: usage.day_count, sent_day: usage.day, last_sent_at: new Date(usage.last_sent_at).toISOString() });
    const instanceId = record.chat_jid ? await this.#host.instanceId() : null;
    const filing = record.chat_jid && instanceId ? fileInMove(d1, record.project_id, { message_id: record.message_id, chat_jid: record.chat_jid, instance_id: instanceId }) : null;
    await scheduleExpiry(this.#host.env, record.media_expiry ?? []);
    const { moved, also } = await markSent(
      d1,
      record.project_id,
      record.message_id,
      { sent_at: record.sent_at, message_secret: record.message_secret, poll_message: record.poll_message },
      (movedNow) => [...counters, ...(filing?.writes(movedNow) ?? [])],
    );
    if (!moved) return this.#sentBefore(record);
    const link = filing?.filed(also.slice(counters.length)) ?? null;
    if (!link) return { kind: "announce", row: moved };
    this.#avatarIfDue(link);
    return { kind: "announce", row: { ...moved, contact_id: link.contact_id, conversation_id: link.conversation_id }, filed: true };
  }

  /**
   * A `sent` record whose move found nothing to move: it was written before
   * and its event may not have left (the object stopped in between, or D1's
   * answer was lost), or it was applied and left for the next write when the
   * object stopped. A message D1 holds as `sent` is announced again, never
   * lost: the hub refuses the repeat by its id (services/events.ts); one that
   * is not (canceled, gone) has nothing to announce.
   */
  async #sentBefore(record: Extract<SendRecord, { kind: "sent" }>): Promise<Extract<SendRecord, { kind: "announce" }> | null> {
    const row = await findMessage(db(this.#host.env.DB), record.project_id, record.message_id);
    if (row?.status !== "sent") return null;
    return { kind: "announce", row, filed: row.contact_id !== null && row.conversation_id !== null };
  }

  /** The filing the move's batch could not settle (sent-messages.ts `recordSent`), before the message is announced. */
  async #fileAfterMove(row: MessageRow): Promise<Link | null> {
    const link = await recordSent(this.#host.env, row.project_id, row);
    if (link) this.#avatarIfDue(link);
    return link;
  }

  /** A contact this number wrote to whose picture is due is fetched (objects/avatars.ts). */
  #avatarIfDue(link: Link): void {
    const jid = avatarDue(link.contact) ? avatarJid(link.contact) : null;
    if (jid) this.#host.fetchAvatar({ contact_id: link.contact_id, jid });
  }

  /**
   * Tells the project what happened to a message: `message.sent` when it left
   * (it joins its customer's conversation then), else `message.status`.
   * Events carry ids and statuses only: never content, so never an OTP code.
   */
  async #announce({ row, filed }: Extract<SendRecord, { kind: "announce" }>): Promise<void> {
    const env = this.#host.env;
    if (row.status === "sent") {
      // Filed in the move's batch, or here: a LID chat, a contact entered by hand, a record written before filing moved there.
      const link = filed ? { contact_id: row.contact_id!, conversation_id: row.conversation_id! } : await this.#fileAfterMove(row);
      await publish(env, row.project_id, {
        type: "message.sent",
        instance_id: row.instance_id,
        contact_id: link?.contact_id ?? null,
        conversation_id: link?.conversation_id ?? null,
        reference: row.reference,
        // Chosen before the first attempt, so a sent message always has one.
        payload: { message_id: row.id, wa_message_id: row.wa_message_id!, type: row.type, to: row.chat_jid, status: "sent", sent_at: row.sent_at },
      });
      return;
    }
    await publish(env, row.project_id, {
      type: "message.status",
      instance_id: row.instance_id,
      contact_id: row.contact_id,
      conversation_id: row.conversation_id,
      reference: row.reference,
      payload: { message_id: row.id, wa_message_id: waIdOf(row), status: row.status, reason: row.reason, chat_jid: row.chat_jid },
    });
  }
}

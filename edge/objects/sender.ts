/**
 * Sends one number's queue, at a human pace. Lives inside the instance's
 * Durable Object (its single writer), which tells it when the fleet is there
 * and the number connected.
 *
 * One message is in flight at a time, in order. After a send the number waits
 * a random gap; caps and warming limits hold messages until they reset; a
 * message that cannot leave within its TTL fails as `expired`. A send whose
 * answer never came (fleet crash, timeout) is retried with the same WhatsApp
 * id, which WhatsApp treats as the same message.
 *
 * What happened to a message (sent, failed, receipts) goes to D1 through a
 * journal in this object's storage (records.ts), written as the message
 * leaves the outbox and drained in order behind the sends; an entry D1
 * refuses is retried (alarm, backoff up to RECORD_RETRY_MAX_MS) until it lands.
 * Entries a crash interrupted are drained when the object next starts.
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
 *
 * A client may call a queued message off (`cancel`) until the sender hands
 * it to the fleet: from then until its answer it is in flight, and once one
 * part has left it is partly sent, so neither is canceled.
 */
import { ProtocolError, type MessageStatusEvent, type OutboundContent } from "../../shared/protocol.ts";
import type { RpcPeer } from "../../shared/rpc.ts";
import { unseal } from "../crypto.ts";
import { db } from "../db/client.ts";
import type { InstanceStatusPatch } from "../db/instances.ts";
import { findMessage } from "../db/messages.ts";
import type { MessageRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { avatarDue, avatarJid } from "../services/contact-avatars.ts";
import { expiryRows, mediaKeysOf, scheduleExpiry } from "../services/media-retention.ts";
import { publish } from "../services/events.ts";
import type { IncidentKind } from "../services/health.ts";
import { waIdOf } from "../services/message-payload.ts";
import { applyReceipt, cancelQueued, markFailed, markSent } from "../services/message-status.ts";
import { countSend, nextGapMs, nextSendAt, type Usage, typingMs } from "../services/pacing.ts";
import { type Link, fileInMove, recordSent } from "../services/sent-messages.ts";
import { type Settings, defaultSettings } from "../services/settings-schema.ts";
import { wakeAt } from "./alarm.ts";
import type { InstanceStorage } from "./instance-storage.ts";
import { SessionTable } from "./session-table.ts";
import { Outbox, type OutboxItem, type OutboxPart } from "./outbox.ts";
import { Journal, type JournalEntry, type SendRecord } from "./records.ts";

/** What the sender needs from the Durable Object it lives in. */
export type SenderHost = {
  ctx: DurableObjectState;
  env: Env;
  /** The object's storage (settings, usage and gap_ms are the sender's keys). */
  storage: InstanceStorage;
  instanceId(): Promise<string | null>;
  /** The live lease holder's peer when the number is connected, else null. */
  readyFleet(): Promise<RpcPeer | null>;
  incident(kind: IncidentKind): Promise<void>;
  /** The D1 write mirroring these columns of the number's row, for the batch of a send's move (none: no row yet). */
  mirrorWrites(patch: InstanceStatusPatch): Promise<D1PreparedStatement[]>;
  /** A contact this number wrote to whose picture is due (objects/avatars.ts). */
  fetchAvatar(contact: { contact_id: string; jid: string }): void;
  /** The number's session, for the Signal keys a send's answer carries. */
  session: Pick<SessionTable, "set">;
};

const SEND_TIMEOUT_MS = 60_000;
const MAX_FAILED_ATTEMPTS = 5;
/** Fleet answers that mean this message cannot be sent as it is (its content, its file, its parameters): retrying will not help. */
const UNSENDABLE = new Set(["invalid_content", "media_unavailable", "bad_params"]);
/** How long an applied journal entry waits for a write to ride on before it is deleted on its own (see the header). */
const APPLIED_LINGER_MS = 2_000;
/** A journal entry D1 refused is tried again after 1 s, doubling up to this. */
const RECORD_RETRY_MAX_MS = 60_000;

export class Sender {
  readonly outbox: Outbox;
  readonly journal: Journal;
  #host: SenderHost;
  #pumping = false;
  #settingsJson: string | null = null;
  #draining = false;
  /** After a refusal, the journal waits for its alarm (new records do not hurry it). */
  #retryAt = 0;
  /** The drain running now, if any. */
  #drained: Promise<void> = Promise.resolve();
  /** The message handed to the fleet and not yet answered. */
  #inFlight: string | null = null;
  /** The journal's entries up to this seq are applied, still to delete with the next write (see the header). */
  #appliedThrough = 0;
  #lingering: ReturnType<typeof setTimeout> | null = null;

  constructor(host: SenderHost) {
    this.#host = host;
    this.outbox = new Outbox(host.ctx.storage.sql);
    this.journal = new Journal(host.ctx.storage.sql);
    // Left by a crash before they were drained: the object is back (the fleet reconnected, a send came), so is D1 perhaps.
    if (this.journal.head()) this.#drain();
  }

  async enqueue(item: Omit<OutboxItem, "next_part" | "attempts" | "not_before">, settings: Settings): Promise<void> {
    await this.#keepSettings(settings);
    this.#removeApplied();
    this.outbox.add(item);
    this.wake();
  }

  async applySettings(settings: Settings): Promise<void> {
    await this.#keepSettings(settings);
    this.wake();
  }

  /** Every send carries the project's settings; storing them only when they changed keeps enqueue cheap. */
  async #keepSettings(settings: Settings): Promise<void> {
    const json = JSON.stringify(settings);
    if (json === this.#settingsJson) return;
    await this.#host.storage.put("settings", settings);
    this.#settingsJson = json;
  }

  /** Pump in the background; the Durable Object stays up until it is done. */
  wake(): void {
    this.#host.ctx.waitUntil(this.pump());
  }

  /** The object's alarm: the time for a send, an expiry or a journal retry. */
  async alarm(): Promise<void> {
    this.#retryAt = 0;
    this.#removeApplied();
    await this.pump();
  }

  async pump(): Promise<void> {
    this.#drain();
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (await this.#step());
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends (or fails) the head of the queue; false when there is nothing to do now. */
  async #step(): Promise<boolean> {
    const item = this.outbox.head();
    if (!item) return false;
    const now = Date.now();
    if (item.expires_at <= now) {
      await this.#fail(item, "expired");
      return true;
    }
    const fleet = await this.#host.readyFleet();
    if (!fleet) {
      await this.#wakeAt(item.expires_at); // to expire it, if nobody comes back for it
      return false;
    }
    const settings = await this.#settings();
    const usage = await this.#host.storage.get("usage");
    const gap = (await this.#host.storage.get("gap_ms")) ?? 0;
    const firstConnectedAt = (await this.#host.storage.get("first_connected_at")) ?? null;
    const due = Math.max(item.not_before, nextSendAt(settings, usage, gap, firstConnectedAt, now));
    if (due > now) {
      await this.#wakeAt(Math.min(due, item.expires_at));
      return false;
    }
    return this.#sendPart(fleet, item, settings);
  }

  async #sendPart(fleet: RpcPeer, item: OutboxItem, settings: Settings): Promise<boolean> {
    const part = item.parts[item.next_part]!;
    let content: OutboundContent;
    try {
      content = await this.#open(part, item.message_id);
    } catch {
      await this.#fail(item, "secret_unavailable");
      return true;
    }
    // Canceled while this step awaited: it must not leave. From here to the answer it is in flight, and cannot be.
    if (!this.outbox.find(item.message_id)) return true;
    this.#inFlight = item.message_id;
    try {
      const result = await fleet.call(
        "message.send",
        {
          message_id: item.message_id,
          wa_message_id: part.wa_message_id,
          chat_jid: item.chat_jid,
          content,
          quoted: part.quoted ?? null,
          ...(part.status ? { status: part.status } : {}),
          // Typing shows in a chat; a status has none.
          typing_ms: content.type === "text" && item.next_part === 0 && !part.status ? typingMs(settings, content.text) : 0,
        },
        SEND_TIMEOUT_MS,
      );
      // The keys this send ratcheted (a fleet that carries none wrote them by session.set before answering), written
      // before anything here awaits I/O, so they commit with this step's other writes. The fleet takes our reply to
      // any call it makes after this answer as proof they are stored: the output gate holds it until the commit.
      const keys = SessionTable.entriesOf(result.session);
      if (keys) this.#host.session.set(keys);
      if (item.next_part + 1 < item.parts.length) {
        this.outbox.partSent(item.message_id, item.next_part + 1);
        return true;
      }
      const usage = await this.#countSend(settings);
      // Together (no await between): the message leaves the queue and its record enters the journal.
      this.outbox.remove(item.message_id);
      this.#record({
        kind: "sent",
        project_id: item.project_id,
        message_id: item.message_id,
        chat_jid: item.chat_jid,
        sent_at: new Date(result.timestamp * 1000).toISOString(),
        message_secret: result.message_secret,
        poll_message: result.poll_message,
        usage,
        media_expiry: this.#mediaExpiry(item),
      });
      return true;
    } catch (err) {
      return this.#onSendError(item, err);
    } finally {
      this.#inFlight = null;
    }
  }

  async #onSendError(item: OutboxItem, err: unknown): Promise<boolean> {
    const code = err instanceof ProtocolError ? err.code : "send_failed";
    if (code === "server_error") {
      // WhatsApp refused it (463 and friends): the same message will be refused again.
      await this.#host.incident("server_error");
      await this.#fail(item, `server_error_${(err as ProtocolError).message}`);
      return true;
    }
    if (UNSENDABLE.has(code)) {
      await this.#host.incident("send_failed");
      await this.#fail(item, code);
      return true;
    }
    const attempts = item.attempts + 1;
    // The fleet left or timed out: its answer may be lost, not the send. Retry (same WhatsApp id) until the TTL.
    if (code === "send_failed") {
      await this.#host.incident("send_failed");
      if (attempts >= MAX_FAILED_ATTEMPTS) {
        await this.#fail(item, "send_failed");
        return true;
      }
    }
    const retryAt = Date.now() + Math.min(60_000, 1_000 * 2 ** attempts);
    this.outbox.retryLater(item.message_id, attempts, retryAt);
    await this.#wakeAt(Math.min(retryAt, item.expires_at));
    return false;
  }

  /**
   * Calls a queued message off: it leaves the outbox and its `canceled`
   * record enters the journal in one step, so it never leaves and never
   * stays `queued`. `sending`: handed to the fleet (or partly sent) right
   * now; `absent`: not queued here (sent, failed, or its record not yet in
   * D1). Answers once the journal has tried to write it.
   */
  async cancel(messageId: string): Promise<"canceled" | "sending" | "absent"> {
    if (this.#inFlight === messageId) return "sending";
    const item = this.outbox.find(messageId);
    if (!item) return "absent";
    if (item.next_part > 0) return "sending";
    this.outbox.remove(messageId);
    this.#record({ kind: "canceled", project_id: item.project_id, message_id: messageId, media_expiry: this.#mediaExpiry(item) });
    await this.#drained;
    return "canceled";
  }

  /**
   * Receipts and late server verdicts for messages this number sent. In the
   * same line as the records of sends, so a quick "delivered" never lands
   * before its message's "sent".
   */
  onStatus(event: MessageStatusEvent, projectId: string): void {
    this.#record({ kind: "receipt", project_id: projectId, event });
  }

  async #fail(item: OutboxItem, reason: string): Promise<void> {
    this.outbox.remove(item.message_id);
    this.#record({ kind: "failed", project_id: item.project_id, message_id: item.message_id, reason, media_expiry: this.#mediaExpiry(item) });
  }

  /** A message is final (sent, failed or canceled): its files are kept for a while, then deleted. */
  #mediaExpiry(item: OutboxItem) {
    return expiryRows(item.project_id, item.message_id, mediaKeysOf(item.parts.map((p) => p.content)), Date.now());
  }

  // ------------------------------------------------------------ the journal

  #record(record: SendRecord): void {
    // Same turn, one commit: the applied entries go with the new one.
    this.#removeApplied();
    this.journal.add(record);
    this.#drain();
  }

  /** Deletes the applied entries; called only beside a write the object makes anyway. */
  #removeApplied(): void {
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
      this.#removeApplied();
    }, APPLIED_LINGER_MS);
  }

  /** Writes the journal to D1, oldest first, in the background; one drain at a time. */
  #drain(): void {
    if (this.#draining) return;
    if (Date.now() < this.#retryAt) {
      // The alarm is one slot: make sure the retry still has it.
      this.#host.ctx.waitUntil(this.#wakeAt(this.#retryAt));
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
      console.error(`sender: writing a send's ${record.kind} record failed (attempt ${attempts}, again in ${delay} ms):`, err instanceof Error ? err.message : err);
      await this.#wakeAt(this.#retryAt);
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

  async #open(part: OutboxPart, messageId: string): Promise<OutboundContent> {
    if (part.content) return part.content;
    const key = this.#host.env.POMBO_DATA_KEY;
    if (!key || !part.sealed) throw new Error("no key to open a sealed part");
    return JSON.parse(await unseal(key, messageId, part.sealed)) as OutboundContent;
  }

  async #countSend(settings: Settings): Promise<Usage> {
    const usage = countSend(await this.#host.storage.get("usage"), Date.now());
    await this.#host.storage.putMany({ usage, gap_ms: nextGapMs(settings) });
    return usage;
  }

  async #settings(): Promise<Settings> {
    return (await this.#host.storage.get("settings")) ?? defaultSettings();
  }

  async #wakeAt(at: number): Promise<void> {
    await wakeAt(this.#host.ctx.storage, at);
  }
}

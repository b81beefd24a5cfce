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
 * What happened to a message (sent, failed, receipts) goes to D1 and to the
 * project through the number's journal (record-drain.ts), in order behind
 * the sends.
 *
 * A client may call a queued message off (`cancel`) until the sender hands
 * it to the fleet: from then until its answer it is in flight, and once one
 * part has left it is partly sent, so neither is canceled.
 */
import { ProtocolError, type MessageStatusEvent, type OutboundContent } from "../../shared/protocol.ts";
import type { RpcPeer } from "../../shared/rpc.ts";
import { unseal } from "../crypto.ts";
import { expiryRows, mediaKeysOf } from "../services/media-retention.ts";
import { countSend, nextGapMs, nextSendAt, type Usage, typingMs } from "../services/pacing.ts";
import { type Settings, defaultSettings } from "../services/settings-schema.ts";
import { wakeAt } from "./alarm.ts";
import type { InstanceStorage } from "./instance-storage.ts";
import { Outbox, type OutboxItem, type OutboxPart } from "./outbox.ts";
import { type DrainHost, RecordDrain } from "./record-drain.ts";
import { SessionTable } from "./session-table.ts";

/** What the sender needs from the Durable Object it lives in. */
export type SenderHost = DrainHost & {
  /** The object's storage (settings, usage and gap_ms are the sender's keys). */
  storage: InstanceStorage;
  /** The live lease holder's peer when the number is connected, else null. */
  readyFleet(): Promise<RpcPeer | null>;
  /** The number's session, for the Signal keys a send's answer carries. */
  session: Pick<SessionTable, "set">;
};

const SEND_TIMEOUT_MS = 60_000;
const MAX_FAILED_ATTEMPTS = 5;
/** Fleet answers that mean this message cannot be sent as it is (its content, its file, its parameters): retrying will not help. */
const UNSENDABLE = new Set(["invalid_content", "media_unavailable", "bad_params"]);

export class Sender {
  readonly outbox: Outbox;
  readonly #records: RecordDrain;
  #host: SenderHost;
  #pumping = false;
  #settingsJson: string | null = null;
  /** The message handed to the fleet and not yet answered. */
  #inFlight: string | null = null;

  constructor(host: SenderHost) {
    this.#host = host;
    this.outbox = new Outbox(host.ctx.storage.sql);
    this.#records = new RecordDrain(host);
  }

  async enqueue(item: Omit<OutboxItem, "next_part" | "attempts" | "not_before">, settings: Settings): Promise<void> {
    await this.#keepSettings(settings);
    this.#records.removeApplied();
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
    this.#records.retryNow();
    this.#records.removeApplied();
    await this.pump();
  }

  async pump(): Promise<void> {
    this.#records.drain();
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
      this.#records.record({
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
    this.#records.record({ kind: "canceled", project_id: item.project_id, message_id: messageId, media_expiry: this.#mediaExpiry(item) });
    await this.#records.drained;
    return "canceled";
  }

  /**
   * Receipts and late server verdicts for messages this number sent. In the
   * same line as the records of sends, so a quick "delivered" never lands
   * before its message's "sent".
   */
  onStatus(event: MessageStatusEvent, projectId: string): void {
    this.#records.record({ kind: "receipt", project_id: projectId, event });
  }

  async #fail(item: OutboxItem, reason: string): Promise<void> {
    this.outbox.remove(item.message_id);
    this.#records.record({ kind: "failed", project_id: item.project_id, message_id: item.message_id, reason, media_expiry: this.#mediaExpiry(item) });
  }

  /** A message is final (sent, failed or canceled): its files are kept for a while, then deleted. */
  #mediaExpiry(item: OutboxItem) {
    return expiryRows(item.project_id, item.message_id, mediaKeysOf(item.parts.map((p) => p.content)), Date.now());
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

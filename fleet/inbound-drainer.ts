/**
 * Empties the inbound spool into the edge: one loop per process, for every
 * instance whose rows it holds (those it runs, those whose lease moved away,
 * and those adopted from a dead sibling's spool).
 *
 * A row is deleted only once the edge answered that it stored the message
 * (or that its number was deleted); one the edge refuses is held on disk. Anything else is retried, with
 * a capped backoff, forever: an edge outage of any length only makes the
 * spool grow. A resend after a lost answer, or the same row drained by two
 * processes, is not a second message: the edge keeps a message once by its
 * WhatsApp id (edge/services/inbound.ts).
 *
 * Messages of one chat go out one at a time, in the order they were
 * spooled (a reply must not overtake what it answers); chats go in
 * parallel, a bounded number of calls at once. Rows are read a page at a
 * time and never more than `pageSize` are held in memory, however big the
 * spool is. Each row is prepared (read, translated, its file stored) as
 * soon as it is read, so a slow download does not hold other chats.
 */
import type { Logger } from "pino";
import { backoffDelay } from "./close-codes.ts";
import { ProtocolError, type Result } from "../shared/protocol.ts";
import type { InboundCourier } from "./inbound-courier.ts";
import type { Delivery, Prepare, Prepared } from "./inbound-prepare.ts";
import type { InboundSpool, SpoolRow } from "./inbound-spool.ts";
import { limiter } from "./limiter.ts";
import { errorText } from "./errors.ts";

export type InboundDrainerOptions = {
  spool: InboundSpool;
  courier: InboundCourier;
  prepare: Prepare;
  logger: Logger;
  /** Rows held in memory at most. */
  pageSize?: number;
  /** Calls to the edge in flight at once, across chats. */
  maxInFlight?: number;
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
  /** How often to look for a dead sibling's spool file to adopt. */
  adoptEveryMs?: number;
};

/**
 * Answers that say this edge cannot read the message we sent: sending it
 * again now cannot help. Such an answer is our own bug (a fleet and an edge
 * that disagree on the protocol), never the customer's, so the row is held
 * on disk, out of the way, for the next process (a fixed release) to try
 * again: unlike a send the edge gives up on, nothing here fails a message.
 * Anything else (link down, lease moving, the edge unreachable, busy or
 * failing) is retried.
 */
const PROTOCOL_MISMATCH = new Set(["bad_params", "invalid_message", "invalid_content", "invalid_request", "invalid_json"]);
/** The number was deleted: nothing can store its messages any more. */
const NUMBER_DELETED = "instance_not_found";

type Item = { row: Omit<SpoolRow, "payload">; prepared: Promise<Prepared> };
type Chat = { items: Item[]; running: boolean };
type Outcome = { stored: Result<"message.received"> } | { failure: unknown };

export class InboundDrainer {
  #spool: InboundSpool;
  #courier: InboundCourier;
  #prepare: Prepare;
  #logger: Logger;
  #pageSize: number;
  #backoff: { baseMs: number; maxMs: number };
  #random: () => number;
  #adoptEveryMs: number;
  #limit: <T>(task: () => Promise<T>) => Promise<T>;

  #chats = new Map<string, Chat>();
  /** Rows read and not yet done with. */
  #inMemory = 0;
  #peak = 0;
  #readUpTo = 0;
  #started = false;
  #stopped = false;
  /** Wakes every chat sleeping in a backoff (a link was granted, or the drainer stops). */
  #wake: (() => void)[] = [];
  #adoptTimer: ReturnType<typeof setInterval> | null = null;
  #unsubscribe: (() => void)[] = [];

  constructor(opts: InboundDrainerOptions) {
    this.#spool = opts.spool;
    this.#courier = opts.courier;
    this.#prepare = opts.prepare;
    this.#logger = opts.logger;
    this.#pageSize = opts.pageSize ?? 256;
    this.#limit = limiter(opts.maxInFlight ?? 32);
    this.#backoff = opts.backoff ?? { baseMs: 250, maxMs: 30_000 };
    this.#random = opts.random ?? Math.random;
    this.#adoptEveryMs = opts.adoptEveryMs ?? 30_000;
  }

  /** Rows held in memory now, and the most ever held. */
  get inMemory(): number {
    return this.#inMemory;
  }
  get peakInMemory(): number {
    return this.#peak;
  }

  /** Adopts what dead siblings left, then drains, now and whenever a row is written. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#unsubscribe.push(this.#spool.onAdded(() => this.#read()));
    this.#adopt();
    this.#adoptTimer = setInterval(() => this.#adopt(), this.#adoptEveryMs);
    this.#adoptTimer.unref();
    this.#read();
  }

  /** A link was granted: what waits for a retry goes now. */
  wake(): void {
    for (const wake of this.#wake.splice(0)) wake();
    this.#read();
  }

  /** Waits up to `timeoutMs` for the spool to empty. Returns the rows still waiting (they stay on disk). */
  async idle(timeoutMs: number): Promise<number> {
    if (this.#spool.waiting > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let unsubscribe = () => {};
      await new Promise<void>((resolve) => {
        unsubscribe = this.#spool.onEmpty(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      unsubscribe();
      clearTimeout(timer);
    }
    return this.#spool.closed ? 0 : this.#spool.waiting;
  }

  /** Stops reading and retrying; what is left stays in the spool for the next process. */
  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#adoptTimer) clearInterval(this.#adoptTimer);
    this.#adoptTimer = null;
    this.wake();
  }

  #adopt(): void {
    if (this.#stopped) return;
    try {
      this.#spool.adopt();
    } catch (err) {
      this.#logger.error({ err: errorText(err) }, "looking for spool files to adopt failed");
    }
  }

  /** Reads rows until `pageSize` are held; each is prepared at once and queued behind its chat. */
  #read(): void {
    while (!this.#stopped && this.#inMemory < this.#pageSize) {
      const rows = this.#spool.page(this.#readUpTo, this.#pageSize - this.#inMemory);
      if (rows.length === 0) return;
      for (const row of rows) {
        this.#readUpTo = row.seq;
        this.#take(row);
      }
    }
  }

  #take(row: SpoolRow): void {
    const prepared = this.#prepare(row);
    prepared.catch(() => {}); // awaited in its turn
    // The sealed bytes are the preparation's alone: once it is done with them, nothing holds them.
    const { payload: _sealed, ...meta } = row;
    const key = `${row.instance_id}\0${row.chat_jid}`;
    let chat = this.#chats.get(key);
    if (!chat) this.#chats.set(key, (chat = { items: [], running: false }));
    chat.items.push({ row: meta, prepared });
    this.#inMemory++;
    this.#peak = Math.max(this.#peak, this.#inMemory);
    if (!chat.running) void this.#run(key, chat);
  }

  async #run(key: string, chat: Chat): Promise<void> {
    chat.running = true;
    try {
      while (chat.items.length > 0 && !this.#stopped) {
        if (!(await this.#deliver(chat.items[0]!))) break;
        chat.items.shift();
        this.#inMemory--;
        this.#read();
      }
    } finally {
      chat.running = false;
      if (chat.items.length === 0) this.#chats.delete(key);
    }
  }

  /** True once the row is done with (stored, refused for good, nothing to deliver, or held back); false if stopped first. */
  async #deliver(item: Item): Promise<boolean> {
    const { row } = item;
    const log = { instance_id: row.instance_id, wa_message_id: row.wa_message_id, seq: row.seq };
    let prepared: Prepared;
    try {
      prepared = await item.prepared;
    } catch (err) {
      // Sealed with another POMBO_SESSION_KEY, or damaged: kept on disk for an operator, out of the way.
      this.#logger.error({ ...log, err: errorText(err) }, "spooled message cannot be read: held in the spool");
      this.#spool.hold(row.seq, errorText(err));
      return true;
    }
    if ("skip" in prepared) {
      this.#logger.warn({ ...log, skip: prepared.skip }, "received message not delivered");
      this.#spool.remove(row.seq);
      return true;
    }
    const { delivery } = prepared;
    const detail = { ...log, type: delivery.message.type, offline: delivery.message.offline };
    for (let attempt = 0; !this.#stopped; attempt++) {
      const outcome = await this.#limit(() => this.#attempt(row.instance_id, delivery));
      if ("stored" in outcome) {
        const { message_id, duplicate } = outcome.stored;
        this.#spool.remove(row.seq);
        this.#logger.info({ ...detail, message_id, duplicate, attempts: attempt + 1 }, "message delivered");
        return true;
      }
      const failure = outcome.failure;
      const code = failure instanceof ProtocolError ? failure.code : "failed";
      const text = errorText(failure);
      if (code === NUMBER_DELETED) {
        this.#logger.warn({ ...detail, code }, "received message for a deleted number: dropped");
        this.#spool.remove(row.seq);
        return true;
      }
      if (PROTOCOL_MISMATCH.has(code)) {
        this.#logger.error({ ...detail, code, err: text }, "the edge refused a received message: held in the spool for the next process");
        this.#spool.hold(row.seq, `refused: ${code}: ${text}`);
        return true;
      }
      const delay = backoffDelay(attempt, this.#backoff, this.#random);
      this.#logger.warn({ ...detail, code, err: text, attempt: attempt + 1, retry_in_ms: delay }, "message not delivered yet, retrying");
      await this.#sleep(delay);
    }
    return false;
  }

  async #attempt(instanceId: string, { message, mappings }: Delivery): Promise<Outcome> {
    if (this.#stopped) return { failure: new ProtocolError("stopped", "the drainer stopped") };
    try {
      return { stored: await this.#courier.deliver(instanceId, message, mappings) };
    } catch (err) {
      return { failure: err };
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#wake = this.#wake.filter((wake) => wake !== done);
        resolve();
      }, ms);
      this.#wake.push(done);
    });
  }
}

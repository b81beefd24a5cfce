/**
 * Delivery of received messages to the edge (`message.received`).
 *
 * WhatsApp will not send a message twice once Baileys acknowledged it, so
 * from then on the fleet holds the only copy: each message is kept until the
 * edge answers that it stored it, and sent again after any failure that is
 * not the message's own fault. The edge drops repeats by WhatsApp id, so a
 * resend after a lost answer is never a second message.
 *
 * Messages of one chat go out one at a time, in the order they arrived (a
 * reply must not overtake what it answers); different chats go in parallel,
 * a bounded number at once. The LID pairs a message taught go out just
 * before it, so the edge can file that very message under the phone number.
 */
import type { Logger } from "pino";
import { backoffDelay } from "../shared/close-codes.ts";
import { type InboundMessage, type LidMapping, ProtocolError, type Result } from "../shared/protocol.ts";
import type { EdgeLink } from "./edge-link.ts";
import { mappingBatches } from "./lid-mappings.ts";
import { limiter } from "./limiter.ts";

/** A message ready to go, with the LID pairs to tell the edge first. */
export type Delivery = { message: InboundMessage; mappings: LidMapping[] };

export type InboundRelayOptions = {
  link: EdgeLink;
  logger: Logger;
  /** Messages held at most; past it new ones are dropped, loudly. */
  maxPending?: number;
  /** Held messages past which the relay warns that the edge is not keeping up. */
  warnPending?: number;
  /** Calls in flight at once, across chats. */
  maxInFlight?: number;
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
};

/**
 * Errors that say the message itself is wrong: sending it again cannot help.
 * Anything else (link down, lease moving, the edge busy or failing) is retried.
 */
const PERMANENT = new Set(["bad_params", "invalid_message", "invalid_content"]);
/** The link is closed for good: nobody will read what we send on it. */
const FINAL = new Set(["stopped"]);

type Item = { waMessageId: string; prepared: Promise<Delivery> };
type Chat = { items: Item[]; running: boolean };

export class InboundRelay {
  #link: EdgeLink;
  #logger: Logger;
  #maxPending: number;
  #warnPending: number;
  #backoff: { baseMs: number; maxMs: number };
  #random: () => number;

  #chats = new Map<string, Chat>();
  #pending = 0;
  #warned = false;
  #limit: <T>(task: () => Promise<T>) => Promise<T>;
  /** Wakes every chat sleeping in a backoff (the link came back, or the relay stops). */
  #wake: (() => void)[] = [];
  #idle: (() => void)[] = [];
  #stopped = false;

  constructor(opts: InboundRelayOptions) {
    this.#link = opts.link;
    this.#logger = opts.logger;
    this.#maxPending = opts.maxPending ?? 10_000;
    this.#warnPending = opts.warnPending ?? 1_000;
    this.#limit = limiter(opts.maxInFlight ?? 32);
    this.#backoff = opts.backoff ?? { baseMs: 250, maxMs: 30_000 };
    this.#random = opts.random ?? Math.random;
  }

  /** Messages held: waiting for their turn, being prepared, or being delivered. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Takes one message for `chat`. `prepared` resolves once it is ready
   * (media stored, vote decrypted); it starts before its turn, so a slow
   * download does not hold other chats, and must never reject.
   */
  enqueue(chat: string, waMessageId: string, prepared: Promise<Delivery>): void {
    if (this.#stopped) {
      this.#logger.error({ wa_message_id: waMessageId }, "message received after the relay stopped: not delivered");
      return;
    }
    if (this.#pending >= this.#maxPending) {
      // Memory is finite: past this many the edge has been unreachable for long, and the newest message goes.
      this.#logger.error({ wa_message_id: waMessageId, pending: this.#pending }, "too many received messages held: dropped");
      return;
    }
    let queue = this.#chats.get(chat);
    if (!queue) {
      queue = { items: [], running: false };
      this.#chats.set(chat, queue);
    }
    queue.items.push({ waMessageId, prepared });
    this.#pending++;
    this.#watchBacklog();
    if (!queue.running) void this.#run(chat, queue);
  }

  /** The link was (re)granted: whatever waits for a retry goes now. */
  regranted(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  /**
   * Waits up to `timeoutMs` for held messages to be delivered, then stops
   * retrying. Returns how many were left undelivered.
   */
  async drain(timeoutMs: number): Promise<number> {
    if (this.#pending > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idle.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#stop();
    const left = this.#pending;
    if (left > 0) this.#logger.error({ undelivered: left }, "stopped with received messages not yet stored by the edge");
    return left;
  }

  #stop(): void {
    this.#stopped = true;
    this.regranted();
  }

  async #run(chat: string, queue: Chat): Promise<void> {
    queue.running = true;
    try {
      while (queue.items.length > 0 && !this.#stopped) {
        const item = queue.items[0]!;
        if (!(await this.#deliver(item))) break;
        queue.items.shift();
        this.#pending--;
      }
    } finally {
      queue.running = false;
      if (queue.items.length === 0) this.#chats.delete(chat);
      if (this.#pending === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** True once the message is done with (stored, or refused for good); false if the relay stopped first. */
  async #deliver(item: Item): Promise<boolean> {
    let delivery: Delivery;
    try {
      delivery = await item.prepared;
    } catch (err) {
      // Preparing never fails by contract (a failed download still delivers the message); if it did, say so.
      this.#logger.error({ wa_message_id: item.waMessageId, err: String(err) }, "received message could not be prepared: dropped");
      return true;
    }
    const { message, mappings } = delivery;
    const log = { wa_message_id: message.wa_message_id, type: message.type };
    for (let attempt = 0; !this.#stopped; attempt++) {
      const outcome = await this.#limit(() => this.#attempt(message, mappings));
      if ("stored" in outcome) {
        const { message_id, duplicate } = outcome.stored;
        this.#logger.info({ ...log, message_id, duplicate, attempts: attempt + 1 }, "message delivered");
        return true;
      }
      const failure = outcome.failure;
      const code = failure instanceof ProtocolError ? failure.code : "failed";
      const text = failure instanceof Error ? failure.message : String(failure);
      if (PERMANENT.has(code)) {
        this.#logger.error({ ...log, code, err: text }, "the edge refused a received message: dropped");
        return true;
      }
      if (FINAL.has(code)) {
        this.#logger.error({ ...log, code }, "the instance link closed for good: received message not delivered");
        this.#stop();
        return false;
      }
      const delay = backoffDelay(attempt, this.#backoff, this.#random);
      this.#logger.warn({ ...log, code, err: text, attempt: attempt + 1, retry_in_ms: delay }, "message not delivered yet, retrying");
      await this.#sleep(delay);
    }
    return false;
  }

  /** One try: what the edge stored, or why it did not. */
  async #attempt(message: InboundMessage, mappings: LidMapping[]): Promise<{ stored: Result<"message.received"> } | { failure: unknown }> {
    if (this.#stopped) return { failure: new ProtocolError("stopped", "the relay stopped") };
    try {
      // Told again on every attempt: a pair sent on a link that then dropped may never have arrived.
      for (const batch of mappingBatches(mappings)) this.#link.emit("lid.mappings", { mappings: batch });
      return { stored: await this.#link.call("message.received", message) };
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

  /** Warns once when the backlog grows past `warnPending`, and again each time it falls and grows back. */
  #watchBacklog(): void {
    if (this.#pending >= this.#warnPending && !this.#warned) {
      this.#warned = true;
      this.#logger.warn({ pending: this.#pending, max: this.#maxPending }, "received messages are backing up: the edge is not storing them");
    } else if (this.#pending < this.#warnPending / 2) {
      this.#warned = false;
    }
  }
}

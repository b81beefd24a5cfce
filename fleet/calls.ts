/**
 * Calls to the number: every offer a socket hears (Baileys' `call` event,
 * status `offer`) goes to the edge as `call.received`, which decides what
 * happens to it (the project's `calls` setting) and announces it; rejecting
 * one is the edge's command back (`call.reject`, Baileys `rejectCall`).
 *
 * The report is repeated until the edge answered it, across a lost link,
 * for as long as a call is worth reporting (REPORT_FOR_MS); the edge keeps
 * one call per id, so a repeat is never a second event. It lives in memory:
 * a process that dies in between loses the report (a call leaves nothing
 * to redeliver at WhatsApp either).
 *
 * Log lines carry call ids and flags, never a JID.
 */
import type { BaileysEventMap } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { type IncomingCall, ProtocolError, type Result } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import { askOpenSocket } from "./socket-ask.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";

/** How long a call's report keeps being retried: past that it is history nobody acts on. */
const REPORT_FOR_MS = 10 * 60_000;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

export type CallsOptions = {
  sockets: Sockets;
  link: EdgeLink;
  logger: Logger;
  /** Test seam: how long to wait before the next attempt. */
  sleep?: (ms: number) => Promise<void>;
};

export class Calls {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "call.reject": ({ call_id, from }) => this.reject(call_id, from),
  };
  #opts: CallsOptions;
  #sleep: (ms: number) => Promise<void>;
  /** Call ids being reported: Baileys may emit an offer again (an offline replay) while the first report runs. */
  #reporting = new Set<string>();

  constructor(opts: CallsOptions) {
    this.#opts = opts;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** A new socket: its call offers are reported. Other statuses (ringing, terminate...) tell nothing new. */
  attach(sock: SocketLike): void {
    sock.ev.on("call", (calls) => {
      for (const call of calls) if (call.status === "offer") void this.#report(incomingCall(call));
    });
  }

  async reject(callId: string, from: string): Promise<Result<"call.reject">> {
    await askOpenSocket(this.#opts.sockets, this.#opts.logger, {
      name: "call reject",
      failed: "call not rejected",
      log: { call_id: callId },
      error: (err) => new ProtocolError("reject_failed", errorText(err)),
      ask: (sock) => sock.rejectCall(callId, from),
    });
    this.#opts.logger.info({ call_id: callId }, "call rejected");
    return {};
  }

  async #report(call: IncomingCall): Promise<void> {
    if (this.#reporting.has(call.call_id)) return;
    this.#reporting.add(call.call_id);
    const { link, logger } = this.#opts;
    const giveUpAt = Date.now() + REPORT_FOR_MS;
    try {
      for (let wait = FIRST_RETRY_MS; ; wait = Math.min(wait * 2, MAX_RETRY_MS)) {
        try {
          const answer = await link.call("call.received", call);
          logger.info({ call_id: call.call_id, video: call.video, group: call.group, rejected: answer.rejected, duplicate: answer.duplicate }, "call received");
          return;
        } catch (err) {
          if (Date.now() + wait > giveUpAt) {
            logger.error({ call_id: call.call_id, err: errorText(err) }, "call not reported: gave up");
            return;
          }
          logger.warn({ call_id: call.call_id, err: errorText(err), retry_ms: wait }, "call not reported yet");
          await this.#sleep(wait);
        }
      }
    } finally {
      this.#reporting.delete(call.call_id);
    }
  }
}

/** Baileys' offer, as the edge takes it: the caller as WhatsApp named them, the phone behind a LID when given. */
export function incomingCall(call: BaileysEventMap["call"][number]): IncomingCall {
  return {
    call_id: call.id,
    from: call.from,
    from_alt: call.callerPn && call.callerPn !== call.from ? call.callerPn : null,
    video: !!call.isVideo,
    group: !!call.isGroup,
    group_jid: call.groupJid ?? null,
    timestamp: Math.floor((call.date instanceof Date && !Number.isNaN(call.date.getTime()) ? call.date.getTime() : Date.now()) / 1000),
    offline: call.offline,
  };
}

/**
 * Dead WhatsApp sockets that look alive.
 *
 * A connection whose far end goes silent without closing (a NAT that forgot
 * it, a proxy that stalled, a network that blackholes) keeps the number
 * `connected` while nothing gets through. Baileys' own keep-alive notices
 * after its interval + 5 s, but it then closes politely and waits for a close
 * handshake the silent peer never answers (ws gives up after 30 s), and only
 * then says the connection closed: up to ~90 s of a number that shows
 * connected and cannot send or receive.
 *
 * `SilenceWatch` counts from the last bytes the socket received; past the
 * bound it reports the socket silent, and `hardClose` drops it without a
 * handshake. Baileys' keep-alive pings (`keepAliveFor`) are what a healthy
 * idle socket receives, so they must come well inside the bound.
 */
import type { ConnectionState } from "@whiskeysockets/baileys";

/** Default bound: an idle healthy socket hears a keep-alive answer every 30 s. */
export const DEFAULT_SILENCE_MS = 45_000;
/** Baileys' default keep-alive interval; shorter only when the bound asks for it. */
const MAX_KEEP_ALIVE_MS = 30_000;

/** Where received frames show up: Baileys' WebSocket client re-emits ws' `message` for every frame. */
export type FrameSource = {
  on(event: "message", listener: () => void): unknown;
  off(event: "message", listener: () => void): unknown;
};

/** The keep-alive interval for a bound: pings (and their answers) at least every two thirds of it. */
export function keepAliveFor(silenceMs: number): number {
  return Math.min(MAX_KEEP_ALIVE_MS, Math.floor((silenceMs * 2) / 3));
}

export class SilenceWatch {
  #silenceMs: number;
  #onSilent: (silentMs: number) => void;
  #now: () => number;
  #source: FrameSource | null = null;
  #lastHeard = 0;
  #timer: ReturnType<typeof setInterval> | null = null;
  #heard = () => {
    this.#lastHeard = this.#now();
  };

  constructor(opts: { silenceMs: number; onSilent: (silentMs: number) => void; now?: () => number }) {
    this.#silenceMs = opts.silenceMs;
    this.#onSilent = opts.onSilent;
    this.#now = opts.now ?? Date.now;
  }

  /** Starts counting silence on a new socket (any previous one is forgotten). */
  watch(source: FrameSource): void {
    this.stop();
    this.#source = source;
    this.#lastHeard = this.#now();
    source.on("message", this.#heard);
    this.#timer = setInterval(() => this.#check(), Math.min(1_000, Math.max(50, this.#silenceMs / 4)));
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#source?.off("message", this.#heard);
    this.#source = null;
  }

  #check(): void {
    const silent = this.#now() - this.#lastHeard;
    if (silent <= this.#silenceMs) return;
    this.stop();
    this.#onSilent(silent);
  }
}

/**
 * Drops a Baileys socket's connection at once, no close handshake: Baileys'
 * own `end()` then finds it closing and finishes without waiting.
 */
export function hardClose(sock: { ws: unknown }): void {
  const raw = (sock.ws as { socket?: { terminate?: () => void } | null }).socket;
  try {
    raw?.terminate?.();
  } catch {
    // already gone
  }
}

/** The close a silent socket ends with, as Baileys reports its own keep-alive timeout (408, connection lost). */
export function silentClose(silentMs: number): Partial<ConnectionState> {
  const error = Object.assign(new Error(`nothing received from WhatsApp for ${silentMs} ms`), { output: { statusCode: 408 } });
  return { connection: "close", lastDisconnect: { error, date: new Date() } };
}

/**
 * The envelope every edge <-> fleet message travels in: the protocol
 * version, the `ping` / `pong` text frames, the JSON frames (`evt`, `req`,
 * `res`) and the close codes the edge ends a link with.
 */
import { z } from "zod";
import type { EventData, EventName } from "./methods.ts";

export const PROTOCOL_VERSION = 1;

/** Text frames answered by the edge without waking the Durable Object. */
export const PING = "ping";
export const PONG = "pong";

/** WebSocket close codes the edge uses towards a fleet. */
export const CloseCode = {
  normal: 1000,
  /** The lease is held by another fleet process. */
  leaseHeld: 4001,
  /** The instance was deleted. */
  deleted: 4004,
  /** The directory took the instance away (rebalance); release and forget it. */
  revoked: 4005,
  /** Protocol version mismatch. */
  badVersion: 4400,
} as const;

export const RpcError = z.object({ code: z.string(), message: z.string() });
export type RpcError = z.infer<typeof RpcError>;

/** A frame as it travels: `evt` one-way, `req` expecting a `res` with its `id` (ok with a result, or an error). */
export type Frame =
  | { v: number; t: "evt"; event: string; data: unknown }
  | { v: number; t: "req"; id: number; method: string; params: unknown }
  | { v: number; t: "res"; id: number; ok: true; result: unknown }
  | { v: number; t: "res"; id: number; ok: false; error: RpcError };

export function eventFrame<E extends EventName>(event: E, data: EventData<E>): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, t: "evt", event, data });
}

/**
 * Reads a frame's envelope. Checked by hand, not by a zod schema: every
 * frame of both directions passes here (a session write, a received message,
 * each send's answer), and what a frame carries (`data`, `params`) is still
 * checked against its event's or method's schema (rpc.ts).
 */
export function parseFrame(text: string): Frame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProtocolError("bad_frame", "frame is not JSON");
  }
  const frame = json as Record<string, unknown> | null;
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) throw badFrame("not an object");
  if (!Number.isInteger(frame.v)) throw badFrame("v: not an integer");
  if (frame.t === "evt") {
    if (typeof frame.event !== "string") throw badFrame("event: not a string");
  } else if (frame.t === "req" || frame.t === "res") {
    if (!Number.isInteger(frame.id)) throw badFrame("id: not an integer");
    if (frame.t === "req" && typeof frame.method !== "string") throw badFrame("method: not a string");
    if (frame.t === "res" && frame.ok !== true && !(frame.ok === false && RpcError.safeParse(frame.error).success)) {
      throw badFrame("a res is ok: true with a result, or ok: false with an error {code, message}");
    }
  } else {
    throw badFrame("t: not evt, req or res");
  }
  if (frame.v !== PROTOCOL_VERSION) throw new ProtocolError("bad_version", `protocol v${frame.v}, expected v${PROTOCOL_VERSION}`);
  return frame as Frame;
}

const badFrame = (why: string) => new ProtocolError("bad_frame", why);

export class ProtocolError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "ProtocolError";
  }
}

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

// A plain union: `res` appears twice (ok / error), which a discriminated union forbids.
export const Frame = z.union([
  z.object({ v: z.number().int(), t: z.literal("evt"), event: z.string(), data: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("req"), id: z.number().int(), method: z.string(), params: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("res"), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.number().int(), t: z.literal("res"), id: z.number().int(), ok: z.literal(false), error: RpcError }),
]);
export type Frame = z.infer<typeof Frame>;

export function eventFrame<E extends EventName>(event: E, data: EventData<E>): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, t: "evt", event, data });
}

export function parseFrame(text: string): Frame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProtocolError("bad_frame", "frame is not JSON");
  }
  const frame = wellFormed(json) ?? checked(json);
  if (frame.v !== PROTOCOL_VERSION) {
    throw new ProtocolError("bad_version", `protocol v${frame.v}, expected v${PROTOCOL_VERSION}`);
  }
  return frame;
}

function checked(json: unknown): Frame {
  const parsed = Frame.safeParse(json);
  if (!parsed.success) throw new ProtocolError("bad_frame", parsed.error.message);
  return parsed.data;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The frame as `Frame` parses it, checked by hand: every frame of the link
 * passes here, and zod's union (four object schemas, tried in turn) was a
 * measurable share of the edge's CPU per send. Only for frames that are
 * plainly well formed, the same fields kept (unknown ones dropped, as zod
 * does); anything else (null: not sure) goes through `Frame`, so a
 * malformed frame is refused with zod's own error, as before.
 */
function wellFormed(json: unknown): Frame | null {
  if (!isObject(json) || !Number.isSafeInteger(json.v)) return null;
  const v = json.v as number;
  if (json.t === "evt") return typeof json.event === "string" && "data" in json ? { v, t: "evt", event: json.event, data: json.data } : null;
  if (!Number.isSafeInteger(json.id)) return null;
  const id = json.id as number;
  if (json.t === "req") return typeof json.method === "string" && "params" in json ? { v, t: "req", id, method: json.method, params: json.params } : null;
  if (json.t !== "res") return null;
  if (json.ok === true) return "result" in json ? { v, t: "res", id, ok: true, result: json.result } : null;
  const error = json.error;
  if (json.ok !== false || !isObject(error) || typeof error.code !== "string" || typeof error.message !== "string") return null;
  return { v, t: "res", id, ok: false, error: { code: error.code, message: error.message } };
}

export class ProtocolError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "ProtocolError";
  }
}

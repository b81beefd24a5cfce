/**
 * What the inbound spool keeps of one received message: Baileys' own
 * WAMessage (cleaned, as Baileys hands it to `messages.upsert`) and who this
 * number was when it arrived, so that any fleet process can translate it,
 * fetch its file and decrypt its vote later, as if it had just arrived.
 * Stored as JSON, sealed with the fleet's key (cipher.ts).
 */
import { BufferJSON, type WAMessage, cleanMessage } from "@whiskeysockets/baileys";
import type { SessionCipher } from "./cipher.ts";
import type { Self } from "./inbound-translate.ts";

export type SpooledMessage = { message: WAMessage; self: Self };

/**
 * A deep copy of a message as plain data, bytes kept as Buffers. Decoded
 * protobuf objects serialize themselves for JSON (bytes as base64 text,
 * longs as strings), which would come back as something else; they are
 * turned into plain objects first, keeping their bytes and numbers.
 */
export function plainCopy(msg: WAMessage): WAMessage {
  return JSON.parse(toJson(msg), BufferJSON.reviver) as WAMessage;
}

/** A copy of a message Baileys has not cleaned yet, cleaned as Baileys will clean the original (which is left alone). */
export function cleanedCopy(msg: WAMessage, self: Self): WAMessage {
  const copy = plainCopy(msg);
  cleanMessage(copy, self.jid ?? "", self.lid ?? "");
  return copy;
}

export function sealSpooled(cipher: SessionCipher, instanceId: string, spooled: SpooledMessage): Uint8Array {
  return cipher.sealReceived(instanceId, spooled.message.key.id ?? "", toJson(spooled));
}

/** Throws CipherError when the record cannot be read with this fleet's key. */
export function openSpooled(cipher: SessionCipher, instanceId: string, waMessageId: string, payload: Uint8Array): SpooledMessage {
  return JSON.parse(cipher.openReceived(instanceId, waMessageId, payload), BufferJSON.reviver) as SpooledMessage;
}

function toJson(value: unknown): string {
  // `this[key]` is the value before its own toJSON ran: a protobuf object is caught here, still whole.
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, json: unknown) {
    const raw = this[key];
    if (isProtobuf(raw)) return raw.constructor.toObject(raw, { longs: Number });
    if (isLong(raw)) return raw.toNumber();
    return BufferJSON.replacer(key, json);
  });
}

type Protobuf = { toJSON(): unknown; constructor: { toObject(message: unknown, options: { longs: NumberConstructor }): unknown } };

function isProtobuf(value: unknown): value is Protobuf {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === "function" &&
    typeof (value.constructor as { toObject?: unknown }).toObject === "function"
  );
}

function isLong(value: unknown): value is { toNumber(): number } {
  return typeof value === "object" && value !== null && "high" in value && "low" in value && typeof (value as { toNumber?: unknown }).toNumber === "function";
}

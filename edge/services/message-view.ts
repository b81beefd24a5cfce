/**
 * A stored message as the API shows it (the `Message` schema): every column
 * but the secrets and the Idempotency-Key. GET /messages/{id} adds the
 * status history and the edits; GET /messages lists these as they are.
 */
import type { MessageRow } from "../db/schema/index.ts";
import { waIdOf } from "./message-payload.ts";

export function messageView(row: MessageRow) {
  const { project_id: _p, idempotency_key: _k, idempotency_fingerprint: _f, message_secret: _s, poll_message: _m, ...message } = row;
  // The WhatsApp ids are chosen at accept, but they are WhatsApp's only once sent.
  const waId = waIdOf(row);
  return { ...message, wa_message_id: waId, wa_message_ids: waId === null ? null : message.wa_message_ids };
}

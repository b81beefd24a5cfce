/**
 * The project's events: what webhooks and SSE listeners receive.
 *
 * Every event is one JSON object, the same on every channel:
 *
 *   {
 *     "id": "evt_...",            // stable: the `webhook-id` header, the SSE id's source
 *     "type": "message.received",
 *     "created_at": "2026-...Z",
 *     "instance_id": "...",       // the number concerned (null for project-wide events)
 *     ...the type's own fields (see EventFields)
 *   }
 *
 * Producers call `publish`; the project's EventHub Durable Object keeps the
 * log (SSE resume), fans out to live SSE streams, and queues one webhook
 * delivery per matching endpoint. `publish` returns once all of that is
 * durable, so a caller that got past it has not lost the event.
 */
import type { PresenceState } from "../../shared/protocol.ts";
import type { MessageActor, MessageDirection } from "../enums.ts";
import type { Env } from "../env.ts";
import { hubOf } from "../objects/stubs.ts";

export const EVENT_TYPES = [
  "message.received",
  "message.sent",
  "message.status",
  "message.edited",
  "message.deleted",
  "presence.update",
  "instance.qr",
  "instance.connected",
  "instance.disconnected",
  "instance.logged_out",
  "instance.banned",
  "contact.merged",
  "webhook.disabled",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The sender block of `message.received` (reference 002). */
export type Sender = { jid: string; lid: string | null; name: string | null };

/** Which message an event is about, by our id and WhatsApp's. */
export type MessageRef = { message_id: string; wa_message_id: string | null; chat_jid: string; direction: MessageDirection };

export type MediaRef = { id: string; url: string; mime_type: string; filename: string | null; size: number };

/**
 * The fields each event type carries besides id/type/created_at/instance_id.
 * `payload` is the message as reference 002 shows it; `contact_id` and
 * `conversation_id` let clients correlate when no phone is present (004).
 */
export type EventFields = {
  "message.received": {
    sender: Sender;
    /** Null in groups when the participant is not a contact yet; conversation_id is null in groups. */
    contact_id: string | null;
    conversation_id: string | null;
    /** The `reference` of our message this one replies or reacts to, when known. */
    reference: string | null;
    payload: Record<string, unknown> & {
      message_id: string;
      wa_message_id: string;
      type: string;
      from: string;
      body: string | null;
      quoted_id?: string;
      quoted_message_id?: string;
      mentions?: string[];
      media?: MediaRef;
    };
  };
  "message.sent": { contact_id: string | null; conversation_id: string | null; reference: string | null; payload: Record<string, unknown> };
  "message.status": { contact_id: string | null; conversation_id: string | null; reference: string | null; payload: Record<string, unknown> };
  /** A message's body (text or caption) changed: ours through PATCH /messages/{id}, the customer's, or one edited on the number's phone. */
  "message.edited": {
    contact_id: string | null;
    conversation_id: string | null;
    reference: string | null;
    payload: MessageRef & { by: MessageActor; previous_body: string | null; body: string; edited_at: string };
  };
  /** A message was deleted for everyone. A customer's keeps no body or media after this. */
  "message.deleted": {
    contact_id: string | null;
    conversation_id: string | null;
    reference: string | null;
    payload: MessageRef & { by: MessageActor; deleted_at: string };
  };
  /** What a number learned of a contact's presence (after POST /conversations/{jid}/presence/subscribe). */
  "presence.update": {
    payload: { jid: string; state: PresenceState; last_seen: string | null };
  };
  "instance.qr": { payload: Record<string, unknown> };
  "instance.connected": { payload: Record<string, unknown> };
  "instance.disconnected": { payload: Record<string, unknown> };
  "instance.logged_out": { payload: Record<string, unknown> };
  "instance.banned": { payload: Record<string, unknown> };
  "contact.merged": { payload: { from_contact_id: string; into_contact_id: string; lid: string; jid: string } };
  "webhook.disabled": { payload: { webhook_id: string; url: string; reason: string } };
};

export type EventOf<T extends EventType> = {
  id: string;
  type: T;
  created_at: string;
  instance_id: string | null;
} & EventFields[T];

export type PomboEvent = { [T in EventType]: EventOf<T> }[EventType];

export type NewEvent = { [T in EventType]: { type: T; instance_id: string | null } & EventFields[T] }[EventType];

/** Builds the event (id, created_at) and hands it to the project's hub; resolves once it is durable. */
export async function publish(env: Env, projectId: string, ...events: NewEvent[]): Promise<PomboEvent[]> {
  if (events.length === 0) return [];
  const created_at = new Date().toISOString();
  const built = events.map((e) => ({ id: `evt_${crypto.randomUUID().replaceAll("-", "")}`, created_at, ...e }) as PomboEvent);
  await hubOf(env, projectId).publish(projectId, built);
  return built;
}

/** Does a webhook's filter (`message.received`, `message.*`, `*`) take this event type? */
export function matchesFilter(filters: readonly string[], type: string): boolean {
  return filters.some((f) => f === "*" || f === type || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}

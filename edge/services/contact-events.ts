/**
 * Owner of `contact_events`, the non-message half of a contact's timeline
 * (notes, opt-out and opt-in, suppression, tag and group changes, status
 * transitions, WhatsApp blocks): the only module that writes them. A change
 * builds its events with `contactEvent` and puts `recordContactEvents` in
 * its own batch, so an event is never written without the change it tells
 * of. timeline.ts reads them.
 */
import { newId } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { type NewContactEvent, insertContactEvents } from "../db/contact-events.ts";
import { chunks } from "../db/lists.ts";

export type { NewContactEvent };

/** Who did it: the API (a client), the contact themself (a keyword opt-out), or Pombo. */
export type Actor = "api" | "contact" | "system" | "admin";

/** An event row; `at` lets events written together share one time. */
export function contactEvent(
  projectId: string,
  contactId: string,
  type: string,
  actor: Actor,
  payload: Record<string, unknown>,
  at = new Date().toISOString(),
): NewContactEvent {
  return { id: newId(), project_id: projectId, contact_id: contactId, type, actor, payload, created_at: at };
}

/** Writes the events (awaited alone, or in a batch with their change): one statement however many. */
export const recordContactEvents = (d1: Db, events: NewContactEvent[]) => insertContactEvents(d1, events);

/** Events per statement when a bulk change (an import) writes thousands: each statement stays small. */
const EVENTS_PER_STATEMENT = 14;

/** A bulk change's events, a statement per part, for its batches. */
export const recordContactEventsInParts = (d1: Db, events: NewContactEvent[]) =>
  chunks(events, EVENTS_PER_STATEMENT).map((part) => insertContactEvents(d1, part));

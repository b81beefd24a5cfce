/**
 * The edge's own value sets, each written once. The D1 schema (`enum:`),
 * the API's schemas and the services derive from these; what the fleet
 * speaks too (instance states, disconnect reasons, send statuses, media
 * types) lives in shared/protocol.ts instead.
 */
import { z } from "zod";
import { MessageStatus } from "../shared/protocol.ts";

/** Which way a message went: sent by one of the project's numbers, or received by it. */
export const MessageDirection = z.enum(["outbound", "inbound"]);
export type MessageDirection = z.infer<typeof MessageDirection>;

/**
 * What a stored message says: a send's status (shared/protocol.ts), `received`,
 * `canceled` (a queued send called off: it never left) or `deleted` (revoked
 * for everyone; a tombstone).
 */
export const StoredMessageStatus = z.enum([...MessageStatus.options, "received", "canceled", "deleted"]);
export type StoredMessageStatus = z.infer<typeof StoredMessageStatus>;

/**
 * Who edited or deleted a message: `api` (a client, through Pombo), `customer`
 * (the other side of the chat) or `phone` (the number's own phone app).
 */
export const MessageActor = z.enum(["api", "customer", "phone"]);
export type MessageActor = z.infer<typeof MessageActor>;

/** How a pool (or the whole project) rotates its numbers. */
export const Strategy = z.enum(["round_robin", "least_used", "health_weighted"]);
export type Strategy = z.infer<typeof Strategy>;

/** A contact's status (reference 001). */
export const ContactStatus = z.enum(["active", "pending_validation", "opted_out", "blocked", "unreachable"]);
export type ContactStatus = z.infer<typeof ContactStatus>;

/** How a contact entered the base. */
export const ContactSource = z.enum(["inbound", "outbound", "api", "import", "widget"]);
export type ContactSource = z.infer<typeof ContactSource>;

/** Who put a number on the suppression list: `contact` for a keyword opt-out. */
export const SuppressionSource = z.enum(["api", "admin", "contact", "system"]);
export type SuppressionSource = z.infer<typeof SuppressionSource>;

/** `alert`: the project's alert URL (settings), which gets instance drops only. */
export const WebhookKind = z.enum(["webhook", "alert"]);
export type WebhookKind = z.infer<typeof WebhookKind>;

/** Where one event's delivery to one webhook stands. */
export const DeliveryStatus = z.enum(["pending", "delivered", "retrying", "dead"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/**
 * The API's shapes as the console reads them. Where the OpenAPI document
 * names a schema, the type is the one generated into sdk/schema.d.ts (held
 * to the served document by its drift tests), so the console follows the
 * API; the rest are shapes the document leaves open (a message's content,
 * a webhook's once-shown secret) or the console's own.
 */
import type { components } from "../../sdk/schema.d.ts";

type Schemas = components["schemas"];

export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

export type Instance = Schemas["Instance"];

export interface Fleet {
  fleet_id: string;
  host: string;
  pid: number;
  capacity: number;
  instances: number;
  connected_at: string;
  last_seen_at: string;
}

// ---- Contacts and webhooks (the CRM views)

/** An offset-paged list (`{data, total, limit, offset}`: contacts, suppressions, webhooks, deliveries). */
export interface OffsetPage<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

export type ContactStatus = "active" | "pending_validation" | "opted_out" | "blocked" | "unreachable";

export type Contact = Schemas["Contact"];

export type TimelineEntry = Schemas["TimelineEntry"];

/** A tag or a contact group (the CRM's two dictionaries). */
export interface ContactKey {
  id: string;
  key: string;
  name: string;
  color: string | null;
  count: number;
}

export type Suppression = Schemas["Suppression"];

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  kind: "webhook" | "alert";
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  last_success_at: string | null;
  created_at: string;
  updated_at: string;
  /** Only in the answer that made it (create, rotate). */
  secret?: string;
}

export interface WebhookAttempt {
  attempt: number;
  status_code: number | null;
  error: string | null;
  /** The start of a failed answer's body. */
  response_body: string | null;
  duration_ms: number;
  at: string;
}

export type WebhookDelivery = Schemas["WebhookDelivery"];

// ---- Inbox and Messages (cinbox)

export type MessageStatus = "queued" | "sent" | "delivered" | "read" | "played" | "failed" | "received" | "canceled" | "deleted";

export type Conversation = Schemas["Conversation"];

export interface MediaRef {
  id?: string;
  /** Received files only: a signed, expiring link. */
  url?: string;
  mime_type: string;
  filename: string | null;
  size: number;
  ptt?: boolean;
}

/** GET /conversations/{jid}/messages: a message in reference 002's shape. */
export interface ConversationMessage {
  id: string;
  direction: "inbound" | "outbound";
  status: MessageStatus;
  /** Why it failed or was deleted. */
  reason: string | null;
  instance_id: string;
  chat_jid: string;
  wa_message_id: string | null;
  reference: string | null;
  type: string;
  body: string | null;
  source?: "phone";
  quoted_id?: string;
  quoted_message_id?: string;
  media?: MediaRef;
  media_error?: string;
  location?: { latitude: number; longitude: number; name: string | null; address: string | null };
  contact?: { display_name: string | null; vcard: string | null };
  poll?: { name: string; options: string[]; selectable_count: number };
  poll_vote?: { poll_message_id: string; selected: string[] };
  code_masked?: string;
  created_at: string;
}

export type MessageSummary = Schemas["MessageSummary"];

/** GET /messages/{id}. */
export interface MessageDetail extends MessageSummary {
  history: { status: string; reason: string | null; at: string }[];
  edits: { previous_body: string | null; body: string; by: "api" | "customer" | "phone"; at: string }[];
}

// --- numbers, settings, admin (cnumbers)

export type NumberSettings = Schemas["NumberSettings"];

export type InstanceDetail = Instance & { settings: NumberSettings };

/** GET /settings (the OpenAPI `Settings`); the form reads only what it shows. */
export interface ProjectSettings {
  warming_days: number;
  warming_first_day_limit: number;
  warming_growth: number;
  pacing: { enabled: boolean; min_gap_ms: number; max_gap_ms: number; typing: boolean };
  caps: { hourly: number; daily: number; lookups_hourly: number };
  rotation: string;
  language: string;
  health_threshold: number;
  message_ttl_hours: number;
  alert_url: string | null;
  optout_keywords: string[];
  default_country: string | null;
  auto_read: boolean;
  calls: { reject: boolean; message: string | null };
}

export type Project = Schemas["Project"];

export interface ApiKeyInfo {
  id: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

// ---- Metrics (GET /metrics)

export interface MetricsCounters {
  sent: number;
  delivered: number;
  read: number;
  played: number;
  failed: number;
  received: number;
  opt_outs: number;
  webhooks_delivered: number;
  webhooks_failed: number;
  webhook_attempts_failed: number;
}

export type MetricsFigures = Schemas["MetricsFigures"];

export type Metrics = Schemas["Metrics"];

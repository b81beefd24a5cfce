/**
 * The API's shapes as the console reads them: a subset of the OpenAPI
 * document's schemas (`/openapi.json`), named as there.
 */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

export interface Instance {
  id: string;
  name: string;
  state: "qr_pending" | "connecting" | "connected" | "disconnected";
  reason: "transient" | "logged_out" | "banned" | "pairing_expired" | null;
  proxy_url: string | null;
  jid: string | null;
  phone: string | null;
  push_name: string | null;
  last_close_code: number | null;
  last_close_at: string | null;
  fleet_id: string | null;
  health: number;
  sent_today: number;
  last_sent_at: string | null;
  warming: { day: number; daily_limit: number; sent_today: number; ends_at: string } | null;
  created_at: string;
}

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

export interface Contact {
  id: string;
  phone: string | null;
  jid: string | null;
  lid: string | null;
  name: string | null;
  email: string | null;
  document: string | null;
  document_type: string | null;
  address: Record<string, string | null>;
  status: ContactStatus;
  opted_out_at: string | null;
  source: string;
  instance_id: string | null;
  message_count: number;
  last_message_at: string | null;
  avatar_url: string | null;
  tags: string[];
  groups: string[];
  created_at: string;
  updated_at: string;
}

export interface TimelineEntry {
  id: string;
  kind: "message" | "event";
  type: string;
  direction?: "inbound" | "outbound";
  status?: string;
  actor: string;
  payload: Record<string, unknown>;
  created_at: string;
}

/** A tag or a contact group (the CRM's two dictionaries). */
export interface ContactKey {
  id: string;
  key: string;
  name: string;
  color: string | null;
  count: number;
}

export interface Suppression {
  phone: string;
  reason: string;
  note: string | null;
  source: "api" | "admin" | "contact" | "system";
  created_at: string;
}

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

export interface WebhookDelivery {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  status: "pending" | "delivered" | "retrying" | "dead";
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
  history: WebhookAttempt[];
}

// ---- Inbox and Messages (cinbox)

export type MessageStatus = "queued" | "sent" | "delivered" | "read" | "played" | "failed" | "received" | "canceled" | "deleted";

/** GET /conversations: a customer's one conversation across the project's numbers. */
export interface Conversation {
  id: string;
  chat_jid: string;
  contact: { id: string; phone: string | null; jid: string | null; lid: string | null; name: string | null };
  instance_id: string | null;
  last_message: { id: string; type: string; direction: "inbound" | "outbound"; body: string | null; status: MessageStatus; created_at: string } | null;
  unread_count: number;
  last_message_at: string | null;
  last_inbound_at: string | null;
  window_expires_at: string | null;
  window_open: boolean;
  created_at: string;
}

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

/** GET /messages items (MessageSummary). */
export interface MessageSummary {
  id: string;
  instance_id: string;
  chat_jid: string;
  direction: "inbound" | "outbound";
  type: string;
  content: Record<string, unknown>;
  status: MessageStatus;
  reason: string | null;
  reference: string | null;
  wa_message_id: string | null;
  sent_at: string | null;
  contact_id: string | null;
  conversation_id: string | null;
  quoted_id: string | null;
  from_me: boolean;
  edited_at: string | null;
  read_at: string | null;
  created_at: string;
  updated_at: string;
}

/** GET /messages/{id}. */
export interface MessageDetail extends MessageSummary {
  history: { status: string; reason: string | null; at: string }[];
  edits: { previous_body: string | null; body: string; by: "api" | "customer" | "phone"; at: string }[];
}

// --- numbers, settings, admin (cnumbers)

export interface NumberSettings {
  ignore_groups: boolean;
  always_online: boolean;
  auto_read: boolean | null;
}

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

export interface Project {
  id: string;
  name: string;
  created_at: string;
}

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

export interface MetricsFigures extends MetricsCounters {
  failed_by_reason: Record<string, number>;
  latency_ms: { p50: number | null; p95: number | null };
}

export interface Metrics {
  from: string;
  to: string;
  bucket: "hour" | "day";
  instance_id: string | null;
  series: (MetricsFigures & { start: string })[];
  totals: MetricsFigures;
  numbers?: (MetricsCounters & { instance_id: string; name: string })[];
}

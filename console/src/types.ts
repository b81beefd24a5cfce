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

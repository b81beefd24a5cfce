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

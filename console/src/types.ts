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

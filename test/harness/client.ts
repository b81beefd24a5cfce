/**
 * The harness's HTTP clients: any request (`raw`, never throws on a status)
 * or one that must succeed (`call`), and the admin and project calls the
 * tests and benchmarks make.
 */
import type { DisconnectReason, InstanceState } from "../../shared/protocol.ts";

export interface Instance {
  id: string;
  name: string;
  state: InstanceState;
  reason: DisconnectReason | null;
  proxy_url: string | null;
  jid: string | null;
  phone: string | null;
  last_close_code: number | null;
  last_close_at: string | null;
  fleet_id: string | null;
  health: number;
  dead_socket_reconnects: number;
  sent_today: number;
  warming: { day: number; daily_limit: number; sent_today: number; ends_at: string } | null;
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Project {
  id: string;
  name: string;
  api_key?: string;
}

export interface FleetInfo {
  fleet_id: string;
  instances: number | string[];
  connected_at: string;
}

/** An HTTP answer a harness call did not expect: the status and body, in the message too. */
export class HttpFailure extends Error {
  status: number;
  body: unknown;
  constructor(method: string, p: string, status: number, body: unknown) {
    super(`${method} ${p} -> ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export interface RawResponse<T = unknown> {
  status: number;
  body: T;
  ms: number;
}

export class Client {
  readonly baseUrl: string;
  readonly token: string;
  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.token = token;
  }

  /** Any request; never throws on HTTP status. */
  async raw<T = unknown>(method: string, p: string, body?: unknown, timeoutMs = 30_000): Promise<RawResponse<T>> {
    const t0 = performance.now();
    const res = await fetch(this.baseUrl + p, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let parsed: unknown = text;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
    } else parsed = null;
    return { status: res.status, body: parsed as T, ms };
  }

  /** A request that must answer `expect` (or any 2xx); returns the body. */
  async call<T>(method: string, p: string, body?: unknown, expect?: number): Promise<T> {
    const r = await this.raw<T>(method, p, body);
    if (expect !== undefined ? r.status !== expect : r.status < 200 || r.status > 299) {
      throw new HttpFailure(method, p, r.status, r.body);
    }
    return r.body;
  }
}

export class AdminClient extends Client {
  createProject(name: string) {
    return this.call<Project & { api_key: string }>("POST", "/admin/projects", { name }, 201);
  }
  listProjects() {
    return this.call<Page<Project>>("GET", "/admin/projects");
  }
  ping(instanceId: string) {
    return this.raw<{ rtt_ms: number }>("POST", `/admin/instances/${instanceId}/ping`);
  }
  fleets() {
    return this.call<{ data: FleetInfo[] }>("GET", "/admin/fleets");
  }
}

export class ProjectClient extends Client {
  createInstance(name: string, proxyUrl?: string) {
    return this.call<Instance>("POST", "/instances", proxyUrl ? { name, proxy_url: proxyUrl } : { name }, 201);
  }
  listInstances(query = "") {
    return this.call<Page<Instance>>("GET", `/instances${query}`);
  }
  /** Every instance of the project, page by page. */
  async listAllInstances(): Promise<Instance[]> {
    const out: Instance[] = [];
    for (let offset = 0; ; ) {
      const page = await this.listInstances(`?limit=100&offset=${offset}`);
      out.push(...page.data);
      offset += page.data.length;
      if (!page.data.length || offset >= page.total) return out;
    }
  }
  getInstance(id: string) {
    return this.call<Instance>("GET", `/instances/${id}`);
  }
  logout(id: string) {
    return this.call<unknown>("POST", `/instances/${id}/logout`);
  }
  /**
   * Imports a session (`creds`: a creds.json string, BufferJSON), once. Right
   * after the instance was created no fleet may hold it yet: the edge waits
   * for one (bounded) before it answers, so anything but 202 is a failure.
   */
  importSession(id: string, creds: string) {
    return this.call<unknown>("POST", `/instances/${id}/session`, creds, 202);
  }
}

/**
 * The console's only way to the API: same origin, the signed-in credential in
 * the Authorization header, and the API's `{error: {code, message, details}}`
 * turned into an ApiError a view can show as it is.
 */
import { credential, signOut, type Role } from "./session.ts";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  query?: Query;
  /** Which credential to send; the project key unless said. */
  as?: Role;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Listeners told when a credential stops working, so the app can show the sign-in again. */
const onUnauthorized = new Set<(role: Role) => void>();
export const whenUnauthorized = (fn: (role: Role) => void) => {
  onUnauthorized.add(fn);
  return () => onUnauthorized.delete(fn);
};

export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const role = opts.as ?? "project";
  const headers: Record<string, string> = {};
  const secret = credential(role);
  if (secret) headers.authorization = `Bearer ${secret}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(withQuery(path, opts.query), {
    method: opts.method ?? "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const data = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: { field?: string } } } | undefined)?.error;
    if (res.status === 401) {
      signOut(role);
      for (const fn of onUnauthorized) fn(role);
    }
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? res.statusText, err?.details?.field);
  }
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Every item of an offset-paged list (`{data, total}`: instances, pools, projects), up to `max`. */
export async function allPages<T>(path: string, query: Query = {}, max = 5000, as?: Role): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const page = await api<{ data: T[]; total: number }>(path, { query: { ...query, limit: 500, offset: out.length }, as });
    out.push(...page.data);
    if (page.data.length === 0 || out.length >= page.total || out.length >= max) return out;
  }
}

/** Every item of a cursor-paged list (`{data, next_cursor}`: messages, conversations, contacts), up to `max`. */
export async function allCursorPages<T>(path: string, query: Query = {}, max = 1000, as?: Role): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await api<{ data: T[]; next_cursor?: string | null }>(path, { query: { ...query, cursor }, as });
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

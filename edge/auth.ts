/**
 * Who is calling. Three kinds of caller, three secrets:
 * - API clients: `Bearer pb_live_...`, a project's key (stored as a hash);
 *   a browser opening the event stream may show a single-use stream token
 *   instead (services/stream-tokens.ts);
 * - operators: `Bearer $POMBO_ADMIN_TOKEN`, for /admin;
 * - fleet processes: `Bearer $POMBO_FLEET_TOKEN`, for /fleet.
 */
import { createMiddleware } from "hono/factory";
import { API_KEY_PREFIX, safeEqual, sha256Hex } from "./crypto.ts";
import { db } from "./db/client.ts";
import { projectForKeyHash } from "./db/api-keys.ts";
import type { AppEnv, Env } from "./env.ts";
import { ApiError } from "./errors.ts";
import { checkBadKeyBudget, clientAddress, spend, spendBadKey } from "./rate-limits.ts";
import { redeemStreamToken } from "./services/stream-tokens.ts";

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

const unauthorized = (message: string) => new ApiError(401, "unauthorized", message);

/**
 * Every request names its key; asking D1 each time would make the key
 * lookup the busiest query there is. An isolate remembers a live key for a
 * few seconds. Revoking forgets it here at once; other isolates see the
 * revocation within KEY_CACHE_MS.
 */
const KEY_CACHE_MS = 10_000;
const knownKeys = new Map<string, { projectId: string; until: number }>();

/**
 * The key's budget is spent before anything else (rate-limits.ts), cached or
 * not: a limited request never reaches D1. A key not cached is looked up only
 * if its address is not over its budget of unknown keys.
 */
async function projectOfKey(env: Env, key: string, address: string): Promise<string | undefined> {
  const hash = sha256Hex(key);
  await spend(env.KEY_RATE_LIMIT, hash, "too many requests with this API key: slow down, then try again after Retry-After");
  const known = knownKeys.get(hash);
  if (known && known.until > Date.now()) return known.projectId;
  checkBadKeyBudget(address);
  const projectId = await projectForKeyHash(db(env.DB), hash);
  if (projectId) {
    if (knownKeys.size > 10_000) knownKeys.clear();
    knownKeys.set(hash, { projectId, until: Date.now() + KEY_CACHE_MS });
  } else {
    knownKeys.delete(hash);
    await spendBadKey(env.BAD_KEY_RATE_LIMIT, address);
  }
  return projectId;
}

/** A key was revoked: this isolate stops accepting it now. */
export function forgetProjectKeys(projectId: string): void {
  for (const [hash, known] of knownKeys) if (known.projectId === projectId) knownKeys.delete(hash);
}

/** Resolves the API key to its project; every later query is scoped to it. */
export const projectAuth = createMiddleware<AppEnv>(async (c, next) => {
  const key = bearer(c.req.header("Authorization"));
  if (!key) throw unauthorized("send your API key as `Authorization: Bearer pb_live_...`");
  if (!key.startsWith(API_KEY_PREFIX)) throw unauthorized("invalid API key");
  const projectId = await projectOfKey(c.env, key, clientAddress(c.req.header("CF-Connecting-IP")));
  if (!projectId) throw unauthorized("invalid or revoked API key");
  const claimed = c.req.header("X-Project-Id");
  if (claimed !== undefined && claimed !== projectId) {
    throw new ApiError(403, "project_mismatch", "X-Project-Id does not match the API key's project");
  }
  c.set("projectId", projectId);
  await next();
});

/**
 * `GET` with `?stream_token=` (what a browser's EventSource can send) spends
 * that token; anything else needs the API key as usual.
 */
export const streamAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = c.req.method === "GET" ? c.req.query("stream_token") : undefined;
  if (token === undefined) return projectAuth(c, next);
  // Made-up tokens count against the address as unknown keys do.
  const address = clientAddress(c.req.header("CF-Connecting-IP"));
  checkBadKeyBudget(address);
  const projectId = await redeemStreamToken(db(c.env.DB), token);
  if (!projectId) await spendBadKey(c.env.BAD_KEY_RATE_LIMIT, address);
  if (!projectId) throw unauthorized("invalid, expired or already used stream token: get a new one from POST /events/token");
  c.set("projectId", projectId);
  await next();
});

/** Checks a shared secret; an unset secret closes the door rather than opening it. */
function secretAuth(secret: (env: Env) => string | undefined, what: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const expected = secret(c.env);
    const given = bearer(c.req.header("Authorization"));
    if (!expected) throw new ApiError(403, "disabled", `${what} is not configured on this edge`);
    if (!given || !safeEqual(given, expected)) throw unauthorized(`invalid ${what}`);
    await next();
  });
}

export const adminAuth = secretAuth((env) => env.POMBO_ADMIN_TOKEN, "POMBO_ADMIN_TOKEN");
export const fleetAuth = secretAuth((env) => env.POMBO_FLEET_TOKEN, "POMBO_FLEET_TOKEN");

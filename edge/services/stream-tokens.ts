/**
 * Stream tokens: how a browser opens `GET /events`. EventSource cannot send
 * an Authorization header, and an API key in a URL ends up in logs and
 * history. So a page that holds the key trades it for a token that is good
 * for one connection within a minute, and puts that in the URL instead.
 */
import { randomToken, sha256Hex } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { insertStreamToken, spendStreamToken } from "../db/stream-tokens.ts";

export const STREAM_TOKEN_PREFIX = "pb_st_";
export const STREAM_TOKEN_TTL_MS = 60_000;

export async function issueStreamToken(db: Db, projectId: string, now = Date.now()) {
  const token = STREAM_TOKEN_PREFIX + randomToken(43);
  const expires_at = now + STREAM_TOKEN_TTL_MS;
  await insertStreamToken(db, { token_hash: sha256Hex(token), project_id: projectId, expires_at }, now);
  return { token, expires_at: new Date(expires_at).toISOString() };
}

/** The project the token was issued for, or undefined when it is unknown, spent or expired. */
export async function redeemStreamToken(db: Db, token: string, now = Date.now()): Promise<string | undefined> {
  if (!token.startsWith(STREAM_TOKEN_PREFIX)) return undefined;
  return spendStreamToken(db, sha256Hex(token), now);
}

/**
 * One webhook attempt: the event's stored body, its media links signed
 * afresh, POSTed signed per Standard Webhooks with the endpoint's secret;
 * `webhook-id` is the event id, the same on every retry and replay, so
 * receivers can drop repeats. A 2xx answer delivers it; any other answer, a
 * redirect, a timeout or a refused connection is a failed attempt, kept
 * with the start of the answer's body. The destination is checked again
 * first: the name may lead elsewhere now, or the operator setting changed.
 *
 * Made by the event hub for a delivery's first attempt (objects/hub-deliveries.ts)
 * and by the queue's consumer for the others (webhook-delivery.ts).
 */
import type { Endpoint } from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { DestinationRefused, checkDestination } from "./destinations.ts";
import { withFreshMediaLinks } from "./media-links.ts";
import { type Signer, signerFor } from "./webhook-signer.ts";

export const TIMEOUT_MS = 10_000;
/** How much of a failed answer's body an attempt keeps. */
const RESPONSE_BODY_CHARS = 500;
const USER_AGENT = "Pombo-Webhooks/1.0 (+https://www.standardwebhooks.com)";

/** What to post: the event (its id and stored body) and where. */
export type Posting = { event_id: string; body: string; webhook: Pick<Endpoint, "id" | "url" | "secret_sealed"> };

export type Answer = { ok: boolean; status: number | null; error: string | null; body: string | null };

export async function post(env: Env, row: Posting): Promise<Answer> {
  let url: URL;
  try {
    url = new URL(row.webhook.url);
  } catch {
    return { ok: false, status: null, error: "bad_url", body: null };
  }
  // Checked again at send time: the name may lead elsewhere now, or the operator setting changed.
  try {
    await checkDestination(env, url.hostname);
  } catch (err) {
    if (!(err instanceof DestinationRefused)) throw err;
    return { ok: false, status: null, error: `${err.code}: ${err.message}`.slice(0, 500), body: null };
  }
  let signer: Signer;
  try {
    signer = await signerFor(env, row.webhook);
  } catch {
    return { ok: false, status: null, error: "secret_unavailable", body: null };
  }
  const parsed = JSON.parse(row.body);
  const event = await withFreshMediaLinks(env, parsed);
  const payload = event === parsed ? row.body : JSON.stringify(event);
  const now = new Date();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: "POST",
      body: payload,
      redirect: "manual",
      signal,
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": row.event_id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signer(row.event_id, now, payload),
      },
    });
    const ok = response.status >= 200 && response.status < 300;
    // A success's body says nothing worth keeping; a failure's often says why.
    let body: string | null = null;
    if (ok) await response.body?.cancel();
    else body = await startOf(response);
    return { ok, status: response.status, error: ok ? null : `HTTP ${response.status}`, body };
  } catch (err) {
    if (signal.aborted) return { ok: false, status: null, error: `timeout: no answer within ${TIMEOUT_MS / 1000} s`, body: null };
    return { ok: false, status: null, error: `unreachable: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500), body: null };
  }
}

/** The first RESPONSE_BODY_CHARS characters of an answer, read no further than needed; null when empty or unreadable. */
async function startOf(response: Response): Promise<string | null> {
  const reader = response.body?.getReader();
  if (!reader) return null;
  const decoder = new TextDecoder();
  let text = "";
  try {
    // Four bytes per character at most: enough bytes for the characters kept.
    for (let bytes = 0; bytes < RESPONSE_BODY_CHARS * 4; ) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
  } catch {
    // The answer broke off: keep what came.
  }
  const kept = text.trim().slice(0, RESPONSE_BODY_CHARS);
  return kept === "" ? null : kept;
}

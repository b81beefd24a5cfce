/**
 * Webhooks: where a project's events go, signed per Standard Webhooks.
 *
 * The signing secret (`whsec_<base64>`) is shown once, when it is made, and
 * kept sealed with POMBO_DATA_KEY (it must be read back to sign). Every
 * change tells the project's event hub, which caches the endpoints it routes
 * to. URLs must be http(s) and lead to public addresses (destinations.ts)
 * unless the operator allows private networks.
 *
 * Owner of `webhooks`, the endpoints (their health, `failing_since` and
 * `last_success_at`, is webhook-delivery.ts's); a replay here reopens a
 * delivery.
 */
import { seal } from "../crypto.ts";
import { db } from "../db/client.ts";
import type { Page } from "../db/pagination.ts";
import type { WebhookRow } from "../db/schema/index.ts";
import {
  type WebhookPatch,
  deleteWebhook,
  disableWebhook,
  findAlertWebhook,
  findDelivery,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  reopenDelivery,
  updateWebhook,
} from "../db/webhooks.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { hubsOf } from "../objects/stubs.ts";
import { EVENT_TYPES } from "./events.ts";
import { checkUrlField } from "./destinations.ts";

/** The project's alert URL (settings) hears only about numbers dropping (reference 003). */
export const ALERT_EVENTS = ["instance.disconnected", "instance.logged_out", "instance.banned"];

export const SECRET_PREFIX = "whsec_";

export type WebhookInput = { url: string; events: string[]; secret?: string; description?: string | null };
export type WebhookChange = Partial<Omit<WebhookInput, "secret">> & { enabled?: boolean; rotate_secret?: boolean };

/** A webhook URL must be http(s) and, unless the operator allows it, lead to public addresses only. */
async function checkWebhookUrl(env: Env, url: string, field = "url"): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiError(400, "invalid_request", `${field}: not a URL`, { field });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new ApiError(400, "invalid_request", `${field}: only http(s) URLs`, { field });
  }
  await checkUrlField(env, parsed, field);
}

/** `message.received`, `message.*` or `*`: a filter must name at least one event type that exists. */
export const isKnownFilter = (filter: string) =>
  filter === "*" ||
  (EVENT_TYPES as readonly string[]).includes(filter) ||
  (filter.endsWith(".*") && EVENT_TYPES.some((type) => type.startsWith(filter.slice(0, -1))));

function checkFilters(events: string[]): string[] {
  const unknown = events.filter((f) => !isKnownFilter(f));
  if (unknown.length > 0) {
    throw new ApiError(400, "invalid_request", `events: unknown event type: ${unknown.join(", ")}`, { field: "events", unknown });
  }
  return [...new Set(events)];
}

/** Standard Webhooks secrets are 24 to 64 random bytes, base64, after `whsec_`. */
function checkSecret(secret: string): string {
  const base64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : "";
  let size = 0;
  try {
    size = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? atob(base64).length : 0;
  } catch {
    size = 0;
  }
  if (size < 24 || size > 64) {
    throw new ApiError(400, "invalid_request", "secret: expected whsec_ followed by 24 to 64 bytes in base64", { field: "secret" });
  }
  return secret;
}

const newSecret = () => SECRET_PREFIX + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

function dataKey(env: Env): string {
  if (!env.POMBO_DATA_KEY) throw new ApiError(503, "webhooks_unavailable", "webhooks need POMBO_DATA_KEY set on the edge");
  return env.POMBO_DATA_KEY;
}

/** Sealed under the webhook's id, so a sealed secret cannot be moved to another endpoint. */
export const secretContext = (webhookId: string) => `webhook:${webhookId}`;

const sealFor = (env: Env, webhookId: string, secret: string) => seal(dataKey(env), secretContext(webhookId), secret);

export function toPublic(row: WebhookRow) {
  const { project_id: _p, secret_sealed: _s, ...rest } = row;
  return rest;
}

/** The hub routes from a cached copy of the endpoints: tell it they changed. */
const changed = async (env: Env, projectId: string) => {
  await Promise.all(hubsOf(env, projectId).map((hub) => hub.invalidate()));
};

async function create(env: Env, projectId: string, input: WebhookInput, kind: WebhookRow["kind"]) {
  await checkWebhookUrl(env, input.url, kind === "alert" ? "alert_url" : "url");
  const events = checkFilters(input.events);
  const secret = input.secret === undefined ? newSecret() : checkSecret(input.secret);
  const id = crypto.randomUUID();
  await insertWebhook(db(env.DB), {
    id,
    project_id: projectId,
    url: input.url,
    events,
    description: input.description ?? null,
    secret_sealed: await sealFor(env, id, secret),
    kind,
  });
  await changed(env, projectId);
  return { ...(await getWebhook(env, projectId, id)), secret };
}

export const createWebhook = (env: Env, projectId: string, input: WebhookInput) => create(env, projectId, input, "webhook");

export async function getWebhook(env: Env, projectId: string, id: string) {
  const row = await findWebhook(db(env.DB), projectId, id);
  if (!row) throw notFound("webhook");
  return toPublic(row);
}

export async function webhooksPage(env: Env, projectId: string, page: Page) {
  const result = await listWebhooks(db(env.DB), projectId, page);
  return { ...result, data: result.data.map(toPublic) };
}

const managedBySettings = () =>
  new ApiError(409, "managed_by_settings", "this is the project's alert URL: change or remove it with PATCH /settings (alert_url)");

export async function changeWebhook(env: Env, projectId: string, id: string, change: WebhookChange) {
  const current = await getWebhook(env, projectId, id);
  if (current.kind === "alert" && (change.url !== undefined || change.events !== undefined)) throw managedBySettings();
  const patch: WebhookPatch = {};
  if (change.url !== undefined) {
    await checkWebhookUrl(env, change.url);
    patch.url = change.url;
  }
  if (change.events !== undefined) patch.events = checkFilters(change.events);
  if (change.description !== undefined) patch.description = change.description;
  if (change.enabled !== undefined) {
    patch.enabled = change.enabled;
    // Turning an endpoint back on starts its health afresh; it is not disabled for any reason now.
    patch.disabled_reason = null;
    if (change.enabled) patch.failing_since = null;
  }
  const secret = change.rotate_secret ? newSecret() : undefined;
  if (secret) patch.secret_sealed = await sealFor(env, id, secret);
  await updateWebhook(db(env.DB), projectId, id, patch);
  await changed(env, projectId);
  const after = await getWebhook(env, projectId, id);
  return secret ? { ...after, secret } : after;
}

export async function removeWebhook(env: Env, projectId: string, id: string) {
  const current = await getWebhook(env, projectId, id);
  if (current.kind === "alert") throw managedBySettings();
  await deleteWebhook(db(env.DB), projectId, id);
  await changed(env, projectId);
}

/** The dead-letter queue's verdict on an endpoint failing for days. */
export async function disableFailingWebhook(env: Env, projectId: string, id: string, reason: string): Promise<boolean> {
  const disabled = await disableWebhook(db(env.DB), projectId, id, reason);
  if (disabled) await changed(env, projectId);
  return disabled;
}

export async function deliveriesPage(env: Env, projectId: string, webhookId: string, page: Page) {
  await getWebhook(env, projectId, webhookId);
  return listDeliveries(db(env.DB), projectId, webhookId, page);
}

/** Sends a delivery again: the same event, the same `webhook-id`, so the receiver can tell it is a repeat. */
export async function replayDelivery(env: Env, projectId: string, webhookId: string, deliveryId: string) {
  const webhook = await getWebhook(env, projectId, webhookId);
  const delivery = await findDelivery(db(env.DB), projectId, webhookId, deliveryId);
  if (!delivery) throw notFound("delivery");
  if (!webhook.enabled) throw new ApiError(409, "webhook_disabled", "the webhook is disabled: enable it (PATCH enabled: true) first");
  await reopenDelivery(db(env.DB), projectId, deliveryId);
  await env.WEBHOOKS.send({ delivery_id: deliveryId, project_id: projectId });
  return { id: deliveryId, status: "pending" as const };
}

/**
 * The project's alert URL (settings `alert_url`): an endpoint of kind
 * `alert` for instance drops. Setting it creates or moves that endpoint and
 * turns it back on; null removes it. Returns the secret when one was made.
 */
export async function setAlertUrl(env: Env, projectId: string, url: string | null): Promise<string | null> {
  const current = await findAlertWebhook(db(env.DB), projectId);
  if (url === null) {
    if (current) {
      await deleteWebhook(db(env.DB), projectId, current.id);
      await changed(env, projectId);
    }
    return null;
  }
  if (!current) {
    const created = await create(env, projectId, { url, events: ALERT_EVENTS, description: "alert URL (settings)" }, "alert");
    return created.secret;
  }
  await checkWebhookUrl(env, url, "alert_url");
  await updateWebhook(db(env.DB), projectId, current.id, { url, enabled: true, disabled_reason: null, failing_since: null });
  await changed(env, projectId);
  return null;
}

/** PATCH /settings `rotate_alert_secret`: the alert endpoint's new secret, shown once; deliveries sign with it from now. */
export async function rotateAlertSecret(env: Env, projectId: string): Promise<string> {
  const current = await findAlertWebhook(db(env.DB), projectId);
  if (!current) throw notFound("alert endpoint");
  const rotated = await changeWebhook(env, projectId, current.id, { rotate_secret: true });
  if (!("secret" in rotated)) throw new Error("a rotation always makes a secret");
  return rotated.secret;
}

/**
 * Instances (one per WhatsApp number): their rows in D1, their Durable
 * Object, and the commands an API client can send to the fleet process
 * running them.
 *
 * Owner of the `instances` rows: created and deleted here. Their state
 * columns (state, health, counters) are the number's Durable Object's: it
 * mirrors what it holds into them (objects/instance.ts).
 */
import type { MethodName, Params, Result } from "../../shared/protocol.ts";
import { newId } from "../crypto.ts";
import { db } from "../db/client.ts";
import { deleteInstance, findInstance, insertInstance, listInstances, setInstanceProxy } from "../db/instances.ts";
import type { Page } from "../db/pagination.ts";
import type { InstanceRow } from "../db/schema/index.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { directoryOf, instanceOf } from "../objects/stubs.ts";
import { checkUrlField } from "./destinations.ts";
import { type Warming, dayKey, warmingOf } from "./pacing.ts";
import { projectPhone } from "./phone-input.ts";
import type { NumberSettings, NumberSettingsPatch } from "./number-settings.ts";
import { getSettings } from "./settings.ts";
import type { Settings } from "./settings-schema.ts";

/**
 * How long pairing and session import wait for a fleet process to take the
 * number: a just-created instance is picked up within a second or two, and a
 * fleet that is starting (deploy, `npm start`) needs a few more.
 */
const WAIT_FOR_FLEET_MS = 10_000;

export type Instance = Omit<InstanceRow, "project_id" | "sent_day"> & {
  warming: (Warming & { sent_today: number }) | null;
};

function present({ project_id: _, sent_day, ...row }: InstanceRow, settings: Settings): Instance {
  const sentToday = sent_day === dayKey(Date.now()) ? row.sent_today : 0;
  const warming = warmingOf(settings, row.first_connected_at);
  return { ...row, sent_today: sentToday, warming: warming ? { ...warming, sent_today: sentToday } : null };
}

export async function createInstance(env: Env, projectId: string, input: { name: string; proxy_url?: string | null }) {
  // The fleet dials the proxy from inside its network: the same policy as any client URL (and the fleet checks again).
  if (input.proxy_url) await checkUrlField(env, new URL(input.proxy_url), "proxy_url");
  const row = await insertInstance(db(env.DB), {
    id: newId(),
    project_id: projectId,
    name: input.name,
    proxy_url: input.proxy_url ?? null,
  });
  await instanceOf(env, row.id).init({ instance_id: row.id, project_id: projectId, name: row.name, proxy_url: row.proxy_url });
  await directoryOf(env).register(row.id);
  return present(row, await getSettings(env, projectId));
}

export async function getInstance(env: Env, projectId: string, id: string): Promise<Instance> {
  const row = await findInstance(db(env.DB), projectId, id);
  if (!row) throw notFound("instance");
  return present(row, await getSettings(env, projectId));
}

/** One instance with how it behaves (its settings live in its Durable Object). */
export async function instanceDetail(env: Env, projectId: string, id: string): Promise<Instance & { settings: NumberSettings }> {
  const instance = await getInstance(env, projectId, id);
  const settings = await instanceOf(env, id).numberSettings();
  if (!settings) throw notFound("instance");
  return { ...instance, settings };
}

/**
 * `PATCH /instances/{id}`: its settings, each acting at once (pushed to the
 * connected number where WhatsApp needs it), and its proxy (the number
 * reconnects through the new one at once).
 */
export async function updateInstance(
  env: Env,
  projectId: string,
  id: string,
  patch: { settings?: NumberSettingsPatch; proxy_url?: string | null },
) {
  await getInstance(env, projectId, id);
  if (patch.proxy_url !== undefined) {
    // The same policy as at creation: the fleet dials it from inside its network.
    if (patch.proxy_url) await checkUrlField(env, new URL(patch.proxy_url), "proxy_url");
    await setInstanceProxy(db(env.DB), projectId, id, patch.proxy_url);
    if (!(await instanceOf(env, id).changeProxy(patch.proxy_url))) throw notFound("instance");
  }
  if (patch.settings && !(await instanceOf(env, id).changeNumberSettings(patch.settings))) throw notFound("instance");
  return instanceDetail(env, projectId, id);
}

export async function instancesPage(env: Env, projectId: string, page: Page) {
  const [result, settings] = await Promise.all([listInstances(db(env.DB), projectId, page), getSettings(env, projectId)]);
  return { ...result, data: result.data.map((row) => present(row, settings)) };
}

/** Fleet-side failures, as the API reports them. */
const commandErrors: Record<string, [404 | 409 | 400 | 502 | 504, string]> = {
  not_found: [404, "instance not found"],
  fleet_unavailable: [409, "no fleet process is running this instance right now; is one running? (`npm run fleet`)"],
  already_paired: [409, "this instance is already paired; log it out first to pair again"],
  invalid_session: [400, "the session is not a usable Baileys creds.json"],
  invalid_phone: [400, "phone must have 8 to 15 digits, country code first"],
  not_ready: [409, "the number's socket is not connected to WhatsApp right now, so it cannot ask for a pairing code; try again"],
  not_connected: [409, "the number is not connected to WhatsApp right now; try again once it is"],
  timeout: [504, "the fleet process did not answer in time"],
  closed: [502, "the fleet process went away while answering"],
};

/** Fleet-side failures a caller answers in its own terms, by code. */
export type CommandFailures = Record<string, (message: string) => ApiError>;

export async function command<M extends MethodName>(
  env: Env,
  id: string,
  method: M,
  params: Params<M>,
  waitMs = 0,
  failures: CommandFailures = {},
): Promise<Result<M>> {
  // With `waitMs`, a fleet that is not online yet may still come (starting up) and take the number in time.
  const outcome = await instanceOf(env, id).command(method, params, waitMs);
  if (outcome.ok) return outcome.result as Result<M>;
  const own = failures[outcome.code];
  if (own) throw own(outcome.message);
  const [status, message] = commandErrors[outcome.code] ?? [502, `the fleet process failed: ${outcome.message}`];
  const waited = outcome.code === "fleet_unavailable" && waitMs > 0 ? ` (waited ${waitMs / 1000} s for one to take it)` : "";
  throw new ApiError(status, commandErrors[outcome.code] ? outcome.code : "fleet_error", message + waited);
}

export async function restartInstance(env: Env, projectId: string, id: string) {
  await getInstance(env, projectId, id);
  await command(env, id, "instance.restart", {});
  return getInstance(env, projectId, id);
}

/** Logs out on WhatsApp when a fleet runs the number; forgets the session either way. */
export async function logoutInstance(env: Env, projectId: string, id: string) {
  await getInstance(env, projectId, id);
  const outcome = await instanceOf(env, id).command("instance.logout", {});
  if (!outcome.ok) await instanceOf(env, id).forgetSession();
  return getInstance(env, projectId, id);
}

export async function removeInstance(env: Env, projectId: string, id: string) {
  await getInstance(env, projectId, id);
  // Best effort: tell WhatsApp this device is gone, so the phone shows it unlinked.
  await instanceOf(env, id).command("instance.logout", {});
  await instanceOf(env, id).destroy();
  await directoryOf(env).unregister(id);
  await deleteInstance(db(env.DB), projectId, id);
}

/**
 * The number's status for someone who wants its QR. Pairing that expired
 * stopped only because nobody scanned: asking for a QR again is asking to
 * pair again, so it restarts (`restarted`).
 */
export async function statusForQr(env: Env, id: string) {
  const status = await instanceOf(env, id).status();
  if (status?.state !== "disconnected" || status.reason !== "pairing_expired") return { status, restarted: false };
  await command(env, id, "instance.restart", {});
  return { status: await instanceOf(env, id).status(), restarted: true };
}

export async function currentQr(env: Env, projectId: string, id: string) {
  await getInstance(env, projectId, id);
  const { status, restarted } = await statusForQr(env, id);
  if (status?.state === "qr_pending" && status.qr) {
    return { state: status.state, qr: status.qr, png: status.qr_png };
  }
  const why = restarted
    ? "pairing had expired and has started again: a new QR is ready in a few seconds"
    : status?.state === "connected"
      ? "the instance is already connected"
      : status?.state === "disconnected" && status.reason === "logged_out"
        ? "the instance is logged out: POST /instances/{id}/restart to get a new QR"
        : "no QR yet: the instance is not waiting to be paired right now";
  throw new ApiError(409, "no_qr", why, { state: status?.state ?? null });
}

/** `input`: the number being paired, as the client wrote it. */
export async function requestPairingCode(env: Env, projectId: string, id: string, input: string) {
  const phone = await projectPhone(env, projectId, input, "phone");
  await getInstance(env, projectId, id);
  return command(env, id, "instance.pairing_code", { phone: phone.slice(1) }, WAIT_FOR_FLEET_MS);
}

export async function importSession(env: Env, projectId: string, id: string, creds: Record<string, unknown>) {
  await getInstance(env, projectId, id);
  await command(env, id, "instance.import_session", { creds }, WAIT_FOR_FLEET_MS);
  return getInstance(env, projectId, id);
}

export async function pingFleet(env: Env, id: string) {
  const outcome = await instanceOf(env, id).ping();
  if (!outcome.ok) throw new ApiError(outcome.code === "not_found" ? 404 : 409, outcome.code, outcome.message);
  return { rtt_ms: outcome.rtt_ms ?? 0 };
}

export function fleetsOnline(env: Env) {
  return directoryOf(env).fleets();
}

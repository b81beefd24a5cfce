/**
 * Project settings: read with defaults filled in, patched with nested
 * merging. Owner of `project_settings` (its rotation cursor is selector.ts's).
 */
import { db } from "../db/client.ts";
import { instanceIdsOf } from "../db/instances.ts";
import { readSettings, writeSettings } from "../db/settings.ts";
import type { Env } from "../env.ts";
import { ApiError, validationError } from "../errors.ts";
import { instanceOf } from "../objects/stubs.ts";
import { Settings, type SettingsPatch, defaultSettings } from "./settings-schema.ts";
import { rotateAlertSecret, setAlertUrl } from "./webhooks.ts";

/**
 * Every send reads its project's settings. An isolate keeps them a few
 * seconds; a PATCH here updates them at once, other isolates follow within
 * SETTINGS_CACHE_MS (the numbers' own copies are pushed to them directly).
 */
const SETTINGS_CACHE_MS = 5_000;
const known = new Map<string, { settings: Settings; until: number }>();

export async function getSettings(env: Env, projectId: string): Promise<Settings> {
  const hit = known.get(projectId);
  if (hit && hit.until > Date.now()) return hit.settings;
  const stored = await readSettings(db(env.DB), projectId);
  const parsed = Settings.safeParse(stored ?? {});
  const settings = parsed.success ? parsed.data : defaultSettings();
  remember(projectId, settings);
  return settings;
}

function remember(projectId: string, settings: Settings): void {
  if (known.size > 10_000) known.clear();
  known.set(projectId, { settings, until: Date.now() + SETTINGS_CACHE_MS });
}

export async function patchSettings(env: Env, projectId: string, { rotate_alert_secret, ...patch }: SettingsPatch): Promise<Settings & { alert_secret?: string }> {
  const current = await getSettings(env, projectId);
  const merged = {
    ...current,
    ...patch,
    pacing: { ...current.pacing, ...patch.pacing },
    caps: { ...current.caps, ...patch.caps },
    calls: { ...current.calls, ...patch.calls },
  };
  const parsed = Settings.safeParse(merged);
  if (!parsed.success) throw validationError(parsed.error, "json");
  if (rotate_alert_secret && parsed.data.alert_url === null) {
    throw new ApiError(409, "no_alert_url", "rotate_alert_secret: there is no alert_url to rotate the secret of", { field: "rotate_alert_secret" });
  }
  // The alert URL is an endpoint of its own (kind "alert"): checked and stored before the settings say so.
  let alertSecret = patch.alert_url !== undefined ? await setAlertUrl(env, projectId, patch.alert_url) : null;
  if (rotate_alert_secret) alertSecret = await rotateAlertSecret(env, projectId);
  await writeSettings(db(env.DB), projectId, parsed.data);
  remember(projectId, parsed.data);
  // Each number paces itself from its own copy: hand the new one to every number now.
  const ids = await instanceIdsOf(db(env.DB), projectId);
  await Promise.all(ids.map((id) => instanceOf(env, id).applySettings(parsed.data)));
  return alertSecret ? { ...parsed.data, alert_secret: alertSecret } : parsed.data;
}

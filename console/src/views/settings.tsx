/**
 * Settings: the project's sending rules (GET/PATCH /settings). The fields
 * follow the API's `Settings` schema (edge/services/settings-schema.ts); a
 * save sends only what changed, and the API's 400 is shown next to the field
 * it names.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../api.ts";
import type { ProjectSettings } from "../types.ts";
import { ErrorNote, useLoad } from "../ui.tsx";
import { ShownOnce } from "./admin/shown-once.tsx";

type Kind = "int" | "number" | "bool" | "text" | "list" | "url";
interface Field {
  /** The setting's path, as the API names it in `details.field`. */
  path: string;
  label: string;
  kind: Kind;
  help?: string;
  options?: [string, string][];
}
const FIELDS: { legend: string; fields: Field[] }[] = [
  {
    legend: "Pacing",
    fields: [
      { path: "pacing.enabled", label: "Pace sends like a person", kind: "bool" },
      { path: "pacing.min_gap_ms", label: "Shortest gap between two sends of a number (ms)", kind: "int" },
      { path: "pacing.max_gap_ms", label: "Longest gap (ms)", kind: "int", help: "Each gap is random between the two." },
      { path: "pacing.typing", label: 'Show "typing…" before text', kind: "bool" },
      { path: "caps.hourly", label: "Sends per number per hour", kind: "int" },
      { path: "caps.daily", label: "Sends per number per day", kind: "int" },
      { path: "caps.lookups_hourly", label: "Phone lookups per number per hour", kind: "int", help: "Bulk lookups are a known cause of bans." },
    ],
  },
  {
    legend: "Warming (new numbers send little at first)",
    fields: [
      { path: "warming_days", label: "Days a new number warms", kind: "int" },
      { path: "warming_first_day_limit", label: "Cap on its first day", kind: "int" },
      { path: "warming_growth", label: "Daily growth of the cap (×)", kind: "number" },
    ],
  },
  {
    legend: "Rotation and health",
    fields: [
      {
        path: "rotation",
        label: "How a number is picked when none is named",
        kind: "text",
        options: [
          ["round_robin", "Round robin"],
          ["least_used", "Least used today"],
          ["health_weighted", "Healthiest first"],
        ],
      },
      { path: "health_threshold", label: "Health threshold (0–100)", kind: "int", help: "A number whose health falls below it leaves rotation." },
      { path: "message_ttl_hours", label: "Hours a queued message waits before it expires", kind: "number" },
    ],
  },
  {
    legend: "Customers",
    fields: [
      { path: "optout_keywords", label: "Opt-out keywords", kind: "list", help: "Comma-separated. A message that is only one of these words opts its sender out. Empty: off." },
      { path: "default_country", label: "Default country (e.g. BR)", kind: "text", help: "How numbers written without a country code are read. Empty: such numbers are refused." },
      { path: "auto_read", label: "Mark received messages read at once", kind: "bool" },
      {
        path: "language",
        label: "Language of the texts Pombo writes",
        kind: "text",
        options: [
          ["en", "English"],
          ["pt-BR", "Português (Brasil)"],
          ["es", "Español"],
        ],
      },
      { path: "calls.reject", label: "Decline every call", kind: "bool" },
      { path: "calls.message", label: "Text sent to a declined caller", kind: "text" },
    ],
  },
  {
    legend: "Alerts",
    fields: [{ path: "alert_url", label: "Alert URL", kind: "url", help: "Gets a signed POST when a number disconnects, is logged out or banned. Empty: none." }],
  },
];

type Values = Record<string, string | boolean>;

const read = (s: unknown, path: string): unknown => path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | null)?.[k], s);

function toForm(settings: ProjectSettings): Values {
  const out: Values = {};
  for (const { fields } of FIELDS)
    for (const f of fields) {
      const v = read(settings, f.path);
      out[f.path] = f.kind === "bool" ? Boolean(v) : f.kind === "list" ? (v as string[]).join(", ") : v === null ? "" : String(v);
    }
  return out;
}

function fromForm(f: Field, v: string | boolean): unknown {
  if (f.kind === "bool") return v;
  const text = String(v).trim();
  if (f.kind === "int" || f.kind === "number") return text === "" ? NaN : Number(text);
  if (f.kind === "list") return text ? text.split(",").map((w) => w.trim()).filter(Boolean) : [];
  return text === "" && (f.path === "alert_url" || f.path === "default_country" || f.path === "calls.message") ? null : text;
}

/** The changed fields only, nested as the API's PATCH merges them. */
function patchOf(before: Values, now: Values): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const { fields } of FIELDS)
    for (const f of fields) {
      if (before[f.path] === now[f.path]) continue;
      const keys = f.path.split(".");
      let at = patch;
      for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
      at[keys.at(-1)!] = fromForm(f, now[f.path]!);
    }
  return patch;
}

export function SettingsView() {
  const settings = useLoad(() => api<ProjectSettings>("/settings"), []);
  const [values, setValues] = useState<Values>({});
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  useEffect(() => settings.data && setValues(toForm(settings.data)), [settings.data]);

  const save = async (extra: Record<string, unknown> = {}) => {
    if (!settings.data) return;
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const answer = await api<ProjectSettings & { alert_secret?: string }>("/settings", {
        method: "PATCH",
        body: { ...patchOf(toForm(settings.data), values), ...extra },
      });
      if (answer.alert_secret) setSecret(answer.alert_secret);
      settings.set(() => answer);
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = error instanceof ApiError && error.field ? error.field : null;
  const errorFor = (path: string) => (fieldError && (fieldError === path || fieldError.startsWith(`${path}.`)) ? error : null);

  return (
    <section>
      <h2>Settings</h2>
      <ErrorNote error={settings.error} />
      {secret && (
        <ShownOnce title="The alert URL's signing secret" value={secret} onDone={() => setSecret(null)}>
          Alerts are signed with it (Standard Webhooks); check the signature with it on your side.
        </ShownOnce>
      )}
      {settings.data && (
        <form
          aria-label="Settings"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          {FIELDS.map(({ legend, fields }) => (
            <fieldset key={legend}>
              <legend>
                <strong>{legend}</strong>
              </legend>
              <div class="grid-auto">
                {fields.map((f) => (
                  <SettingField key={f.path} field={f} value={values[f.path]} error={errorFor(f.path)} onChange={(v) => setValues((old) => ({ ...old, [f.path]: v }))} />
                ))}
              </div>
            </fieldset>
          ))}
          {error && !fieldError && <ErrorNote error={error} />}
          <div class="toolbar">
            <button type="submit" aria-busy={busy} disabled={busy}>
              Save settings
            </button>
            {settings.data.alert_url && (
              <button type="button" class="secondary" onClick={() => void save({ rotate_alert_secret: true })}>
                New alert secret
              </button>
            )}
            {saved && <span role="status">Saved.</span>}
          </div>
        </form>
      )}
    </section>
  );
}

function SettingField({ field: f, value, error, onChange }: { field: Field; value: string | boolean | undefined; error: unknown; onChange: (v: string | boolean) => void }) {
  const invalid = error ? true : undefined;
  if (f.kind === "bool") {
    return (
      <label>
        <input type="checkbox" role="switch" name={f.path} checked={Boolean(value)} aria-invalid={invalid} onChange={(e) => onChange(e.currentTarget.checked)} />
        {f.label}
        <ErrorNote error={error} />
      </label>
    );
  }
  return (
    <label>
      {f.label}
      {f.options ? (
        <select name={f.path} value={String(value ?? "")} aria-invalid={invalid} onChange={(e) => onChange(e.currentTarget.value)}>
          {f.options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      ) : (
        <input
          name={f.path}
          type={(f.kind === "int" || f.kind === "number" ? "number" : f.kind === "url" ? "url" : "text") as "text"}
          step={f.kind === "number" ? "any" : undefined}
          value={String(value ?? "")}
          aria-invalid={invalid}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      )}
      {error ? <ErrorNote error={error} /> : f.help && <small>{f.help}</small>}
    </label>
  );
}

/** Small pieces every view uses: loading data, showing errors, times and statuses. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api.ts";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replace the data in place (a live event changed one row). */
  set: (update: (data: T | undefined) => T | undefined) => void;
}

/** Runs `load` when a dependency changes; a slower earlier answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error) => current && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const set = useCallback((update: (data: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })), []);
  return { data: state.data, error: state.error, loading: state.loading, reload, set };
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.message} (${error.code}${error.field ? `, field ${error.field}` : ""})`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

/** A button that runs an action, shows it is busy, and reports its error next to itself. */
export function Action(props: { onRun: () => Promise<unknown>; children: ComponentChildren; confirm?: string; class?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await props.onRun();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={props.class} aria-busy={busy} disabled={busy} onClick={run}>
        {props.children}
      </button>
      <ErrorNote error={error} />
    </>
  );
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return RELATIVE.format(seconds, "second");
  if (abs < 3600) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  return RELATIVE.format(Math.round(seconds / 86_400), "day");
}

export function Time({ iso }: { iso: string | null | undefined }) {
  return iso ? <time dateTime={iso} title={new Date(iso).toLocaleString()}>{ago(iso)}</time> : <span class="muted">—</span>;
}

const TONE: Record<string, "ok" | "warn" | "bad"> = {
  connected: "ok",
  delivered: "ok",
  read: "ok",
  played: "ok",
  sent: "ok",
  queued: "warn",
  connecting: "warn",
  qr_pending: "warn",
  disconnected: "bad",
  failed: "bad",
  canceled: "warn",
  deleted: "warn",
};

/** A status word, coloured by whether it is good news. */
export function Badge({ value }: { value: string }) {
  const tone = TONE[value];
  return <span class={`badge${tone ? ` ${tone}` : ""}`} data-value={value}>{value}</span>;
}

/** A form's submit: busy while it runs, its error kept to show beside the form (ErrorNote). */
export function useSubmit(run: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e?: Event) => {
    e?.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await run();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

/**
 * Metrics: the project's counters (`#/metrics`) or one number's
 * (`#/metrics/<id>`) over a range, charted, with their totals and, for the
 * project, each number's totals (a number's name opens its own chart).
 */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { href } from "../router.ts";
import type { Route } from "../router.ts";
import type { Metrics, MetricsCounters } from "../types.ts";
import { ErrorNote, useLoad } from "../ui.tsx";
import { MetricsChart } from "./metrics/chart.tsx";

const HOUR = 3_600_000;
/** The ranges offered: how far back, and the bucket that suits it. */
const RANGES = {
  "24h": { label: "Last 24 hours", back: 24 * HOUR, bucket: "hour" },
  "7d": { label: "Last 7 days", back: 7 * 24 * HOUR, bucket: "day" },
  "30d": { label: "Last 30 days", back: 30 * 24 * HOUR, bucket: "day" },
} as const;
type Range = keyof typeof RANGES;

/** The table's columns: each number's counters. */
const COLUMNS: [keyof MetricsCounters, string][] = [
  ["sent", "Sent"],
  ["delivered", "Delivered"],
  ["read", "Read"],
  ["failed", "Failed"],
  ["received", "Received"],
  ["opt_outs", "Opt-outs"],
  ["webhooks_delivered", "Webhooks delivered"],
  ["webhooks_failed", "Webhooks failed"],
];

const ms = (value: number | null) => (value === null ? "—" : value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(1)} s`);

export function MetricsView({ route }: { route: Route }) {
  const instanceId = route.parts[0];
  const [range, setRange] = useState<Range>("24h");
  const metrics = useLoad(() => {
    const { back, bucket } = RANGES[range];
    return api<Metrics>("/metrics", { query: { from: new Date(Date.now() - back).toISOString(), bucket, instance_id: instanceId } });
  }, [range, instanceId]);
  const names = useLoad(() => (instanceId ? api<{ name: string }>(`/instances/${encodeURIComponent(instanceId)}`) : Promise.resolve(null)), [instanceId]);
  const m = metrics.data;
  const title = instanceId ? `Number ${names.data?.name ?? instanceId}` : "Project";

  return (
    <section>
      <h2>Metrics</h2>
      {instanceId && <a href={href("metrics")}>← All numbers</a>}
      <div class="toolbar">
        <select aria-label="Range" value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value as Range)}>
          {Object.entries(RANGES).map(([key, r]) => (
            <option key={key} value={key}>
              {r.label}
            </option>
          ))}
        </select>
        <button type="button" class="secondary" onClick={metrics.reload} aria-busy={metrics.loading}>
          Refresh
        </button>
      </div>
      <ErrorNote error={metrics.error} />
      {m && (
        <>
          <MetricsChart metrics={m} title={`${title}, by ${m.bucket}`} />
          <table class="metrics-totals" aria-label="Totals">
            <tbody>
              {COLUMNS.map(([key, label]) => (
                <tr key={key}>
                  <th scope="row">{label}</th>
                  <td data-metric={key}>{m.totals[key]}</td>
                </tr>
              ))}
              <tr>
                <th scope="row">Accept to sent (p50 / p95)</th>
                <td data-metric="latency">
                  {ms(m.totals.latency_ms.p50)} / {ms(m.totals.latency_ms.p95)}
                </td>
              </tr>
              {Object.entries(m.totals.failed_by_reason).map(([reason, count]) => (
                <tr key={reason}>
                  <th scope="row">Failed: {reason}</th>
                  <td data-reason={reason}>{count}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {m.numbers && <NumbersTable numbers={m.numbers} />}
        </>
      )}
    </section>
  );
}

function NumbersTable({ numbers }: { numbers: NonNullable<Metrics["numbers"]> }) {
  return (
    <>
      <h3>By number</h3>
      <table>
        <thead>
          <tr>
            <th>Number</th>
            {COLUMNS.map(([key, label]) => (
              <th key={key}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {numbers.map((n) => (
            <tr key={n.instance_id} data-instance={n.instance_id}>
              <td>
                <a href={href("metrics", n.instance_id)}>{n.name}</a>
              </td>
              {COLUMNS.map(([key]) => (
                <td key={key} data-metric={key}>
                  {n[key]}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

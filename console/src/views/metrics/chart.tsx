/**
 * A metrics series as a uPlot line chart (bundled with the console, like
 * everything it draws): one line per counter, over the buckets' starts.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { Metrics, MetricsCounters } from "../../types.ts";

/** The counters charted, with their colours. */
export const CHARTED: [keyof MetricsCounters, string, string][] = [
  ["sent", "Sent", "#1e88e5"],
  ["delivered", "Delivered", "#43a047"],
  ["read", "Read", "#8e24aa"],
  ["failed", "Failed", "#e53935"],
  ["received", "Received", "#fb8c00"],
];

export function MetricsChart({ metrics, title }: { metrics: Metrics; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [
      metrics.series.map((b) => Date.parse(b.start) / 1000),
      ...CHARTED.map(([key]) => metrics.series.map((b) => b[key])),
    ];
    const chart = new uPlot(
      {
        title,
        width: Math.max(320, el.clientWidth),
        height: 260,
        series: [{}, ...CHARTED.map(([, label, stroke]) => ({ label, stroke, width: 2 }))],
        axes: [{}, { size: 50 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      data,
      el,
    );
    return () => chart.destroy();
  }, [metrics, title]);
  return <div class="metrics-chart" ref={box} />;
}

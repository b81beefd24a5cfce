/** What a chaos run reports, and how it is printed. */

export type RunResult = {
  scenario: string;
  run: number;
  /** Messages the scenario counts (sent by customers, or accepted by the API). */
  messages: number;
  lost: number;
  duplicated: number;
  /** Scenario figures, printed in this order. */
  figures: [label: string, value: number | string][];
  /** What was lost or duplicated, one line each (text, WhatsApp id, number). */
  lostItems: string[];
  duplicatedItems: string[];
  /** Other broken promises (a status that lies, a number run twice); each fails the run. */
  problems: string[];
  seconds: number;
  /** Where the logs are, when kept. */
  logDir?: string;
  error?: string;
};

export const failed = (r: RunResult) => r.lost > 0 || r.duplicated > 0 || r.problems.length > 0 || r.error !== undefined;

export const secs = (ms: number) => Math.round(ms / 100) / 10;

/** One run, as a line for the terminal and the lines under it. */
export function formatRun(r: RunResult, of: number): string {
  const head =
    `${r.scenario} run ${r.run}/${of}: ${r.messages} messages, ${r.lost} lost, ${r.duplicated} duplicated` +
    (r.problems.length ? `, ${r.problems.length} problem(s)` : "") +
    ` (${secs(r.seconds * 1000)} s)${failed(r) ? "  FAILED" : ""}`;
  const lines = [head, ...r.figures.map(([k, v]) => `    ${k}: ${v}`)];
  if (r.error) lines.push(`    ERROR: ${r.error}`);
  for (const p of r.problems) lines.push(`    problem: ${p}`);
  const list = (what: string, items: string[]) => {
    if (!items.length) return;
    lines.push(`    ${what} (${items.length}):`);
    for (const x of items.slice(0, 40)) lines.push(`      ${x}`);
    if (items.length > 40) lines.push(`      ... and ${items.length - 40} more`);
  };
  list("lost", r.lostItems);
  list("duplicated", r.duplicatedItems);
  if (r.logDir) lines.push(`    logs: ${r.logDir}`);
  return lines.join("\n");
}

/** Totals per scenario over its runs. */
export function formatTotals(results: RunResult[]): string {
  const byScenario = new Map<string, RunResult[]>();
  for (const r of results) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  const lines = ["total:"];
  for (const [scenario, runs] of byScenario) {
    const sum = (f: (r: RunResult) => number) => runs.reduce((a, r) => a + f(r), 0);
    const bad = runs.filter(failed).length;
    lines.push(
      `  ${scenario.padEnd(14)} ${runs.length} run(s): ${sum((r) => r.messages)} messages, ${sum((r) => r.lost)} lost, ` +
        `${sum((r) => r.duplicated)} duplicated, ${sum((r) => r.problems.length)} problem(s); per run lost ${runs.map((r) => r.lost).join("/")}` +
        `${bad ? `; ${bad} run(s) FAILED` : "; clean"}`,
    );
  }
  return lines.join("\n");
}

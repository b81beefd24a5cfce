/** The command line of a benchmark or of the chaos runner: options, numbers in them, Ctrl-C, the report. */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/**
 * Parses `options` plus `--help`/`-h`, which prints `usage` and exits 0. An
 * option it does not know, or a missing value, prints what was wrong and
 * `usage`, and exits 2.
 */
export function commandLine<const O extends ParseArgsOptionsConfig>(usage: string, options: O) {
  const parse = () => {
    try {
      return parseArgs({ options: { ...options, help: { type: "boolean", short: "h", default: false } } });
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n${usage}`);
      process.exit(2);
    }
  };
  const { values } = parse();
  if ((values as { help?: boolean }).help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values;
}

/** Options every stack benchmark takes: --json (the figures as one JSON line too) and --keep-logs. */
export const REPORT_OPTIONS = {
  json: { type: "boolean", default: false },
  "keep-logs": { type: "boolean", default: false },
} as const;

/** A whole-number option, or exit 2 with a message naming it. */
export function int(name: string, text: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) {
    process.stderr.write(`--${name} must be a whole number >= ${min}, got "${text}"\n`);
    process.exit(2);
  }
  return v;
}

/** Ctrl-C or SIGTERM: clean up (stop the edge, fleet and peers), then exit non-zero. */
export function onInterrupt(log: (line: string) => void, cleanup: () => Promise<unknown>): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      process.exitCode = 1;
      void cleanup().then(() => process.exit(1));
    });
  }
}

/**
 * Runs a benchmark's `body` once. A failure is logged, with the stack's
 * `diagnostics()` where it has any, and exits 1. However the run ends (done,
 * failed, Ctrl-C, or `timeoutMs` passed), `cleanup` runs once, then the
 * process exits.
 */
export async function runBench(
  log: (line: string) => void,
  opts: { timeoutMs: number; cleanup: () => Promise<unknown>; diagnostics: () => string | undefined },
  body: () => Promise<void>,
): Promise<never> {
  let cleaning: Promise<unknown> | undefined;
  const cleanup = () => (cleaning ??= opts.cleanup());
  const watchdog = setTimeout(() => {
    log(`overall time limit (${opts.timeoutMs / 1000}s) reached, stopping`);
    process.exitCode = 1;
    void cleanup().then(() => process.exit(1));
  }, opts.timeoutMs);
  watchdog.unref();
  onInterrupt(log, cleanup);
  try {
    await body();
  } catch (err) {
    process.exitCode = 1;
    log(`failed: ${(err as Error).message}`);
    const diagnostics = opts.diagnostics();
    if (diagnostics) log(diagnostics);
  } finally {
    await cleanup();
  }
  process.exit(process.exitCode ?? 0);
}

/** A run's report on stdout: its lines, then (with --json) its figures as one JSON line, led by the Node version that ran it. */
export function printReport(lines: string[], json: object | false): void {
  process.stdout.write(lines.join("\n") + "\n");
  if (json) process.stdout.write(JSON.stringify({ node: process.version, ...json }) + "\n");
}

/**
 * The OpenAPI document passes Redocly's recommended rules (redocly.yaml,
 * with its few reasoned exceptions) without a single error or warning.
 * It lints sdk/openapi.json, which test/edge/openapi.test.ts holds equal to
 * what the Worker serves.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REDOCLY = fileURLToPath(new URL("../../node_modules/@redocly/cli/bin/cli.js", import.meta.url));

type Report = { totals: { errors: number; warnings: number; ignored: number }; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };

it("lints with Redocly's recommended rules: 0 errors, 0 warnings", async () => {
  const run = promisify(execFile)(process.execPath, [REDOCLY, "lint", "sdk/openapi.json", "--config", "redocly.yaml", "--format", "json"], {
    cwd: ROOT,
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  // A failed lint exits 1 with the same report on stdout.
  const { stdout } = await run.catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
  const report = JSON.parse(stdout) as Report;
  const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
  expect(problems).toEqual([]);
  expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
});

/**
 * `npm run chaos` -- the chaos suite: the real edge (wrangler dev), fleet
 * processes and crabline WhatsApp peers on loopback, broken on purpose, and
 * counted: messages, lost, duplicated, and each scenario's own figures.
 *
 *   npm run chaos -- [--scenario <name>]... [--runs N] [--messages M] [--numbers N]
 *                    [--rate R] [--pause-s 60] [--down-s 600] [--json] [--keep-logs]
 *
 * Scenarios (all four by default, in this order): fleet-kill, edge-pause,
 * stack-kill, receiver-down. Each run starts a fresh stack (its own edge
 * state, fleet data directory, peers and logs). Exits 1 if any run lost or
 * duplicated a message, found another problem or failed; the logs of such a
 * run are kept and their directory printed. Not part of `npm test`: a full
 * pass takes about 20 minutes (receiver-down alone 12+).
 */
import { commandLine, int, onInterrupt } from "../harness/cli.ts";
import { failed, formatRun, formatTotals, type RunResult } from "./result.ts";
import { edgePause } from "./scenarios/edge-pause.ts";
import { fleetKill } from "./scenarios/fleet-kill.ts";
import { receiverDown } from "./scenarios/receiver-down.ts";
import type { Scenario, ScenarioOptions } from "./scenarios/scenario.ts";
import { stackKill } from "./scenarios/stack-kill.ts";
import { ChaosStack } from "./stack.ts";

// The peers' signal library logs sessions with console.log: keep stdout for the report.
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = () => {};

const SCENARIOS: Scenario[] = [fleetKill, edgePause, stackKill, receiverDown];
const USAGE =
  "usage: npm run chaos -- [--scenario <name>]... [--runs 1] [--messages M] [--numbers N] [--rate R]\n" +
  "                        [--pause-s 60] [--down-s 600] [--json] [--keep-logs]\n" +
  `scenarios: ${SCENARIOS.map((s) => `\n  ${s.name.padEnd(14)} ${s.summary}`).join("")}\n`;

const opts = commandLine(USAGE, {
  scenario: { type: "string", multiple: true, default: [] },
  runs: { type: "string", default: "1" },
  messages: { type: "string" },
  numbers: { type: "string" },
  rate: { type: "string" },
  "pause-s": { type: "string", default: "60" },
  "down-s": { type: "string", default: "600" },
  json: { type: "boolean", default: false },
  "keep-logs": { type: "boolean", default: false },
});
const unknown = opts.scenario!.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(", ")}\n${USAGE}`);
  process.exit(2);
}
const selected = opts.scenario!.length ? SCENARIOS.filter((s) => opts.scenario!.includes(s.name)) : SCENARIOS;
const RUNS = int("runs", opts.runs!, 1);
const rate = opts.rate === undefined ? undefined : Number(opts.rate);
if (rate !== undefined && !(rate > 0)) {
  process.stderr.write(`--rate must be a number > 0, got "${opts.rate}"\n`);
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

let current: ChaosStack | undefined;
onInterrupt(log, async () => {
  await current?.stop(true);
  if (current) log(`logs kept in ${current.logDir}`);
});

async function runOnce(scenario: Scenario, run: number): Promise<RunResult> {
  const options: ScenarioOptions = {
    messages: opts.messages === undefined ? scenario.defaults.messages : int("messages", opts.messages, 1),
    numbers: opts.numbers === undefined ? scenario.defaults.numbers : int("numbers", opts.numbers, 1),
    rate: rate ?? scenario.defaults.rate,
    pauseS: int("pause-s", opts["pause-s"]!, 1),
    downS: int("down-s", opts["down-s"]!, 1),
  };
  const started = Date.now();
  const runLog = (line: string) => log(`${scenario.name} #${run}: ${line}`);
  let result: RunResult;
  try {
    const body = await scenario.run({
      run,
      options,
      log: runLog,
      startStack: async (stackOpts) => (current = await ChaosStack.start({ ...stackOpts, name: scenario.name, log: runLog })),
    });
    result = { scenario: scenario.name, run, seconds: (Date.now() - started) / 1000, ...body };
  } catch (err) {
    result = {
      scenario: scenario.name,
      run,
      messages: 0,
      lost: 0,
      duplicated: 0,
      figures: [],
      lostItems: [],
      duplicatedItems: [],
      problems: [],
      seconds: (Date.now() - started) / 1000,
      error: (err as Error).stack ?? String(err),
    };
  }
  if (current) {
    const keep = opts["keep-logs"]! || failed(result);
    if (keep) result.logDir = current.logDir;
    if (result.error) runLog(current.e2e.diagnostics());
    await current.stop(keep);
    current = undefined;
  }
  return result;
}

const results: RunResult[] = [];
for (const scenario of selected) {
  for (let run = 1; run <= RUNS; run++) {
    log(`${scenario.name}: run ${run}/${RUNS}`);
    const result = await runOnce(scenario, run);
    results.push(result);
    if (!opts.json) process.stdout.write(formatRun(result, RUNS) + "\n");
  }
}
if (opts.json) process.stdout.write(JSON.stringify({ runs: results, failed: results.some(failed) }) + "\n");
else process.stdout.write(formatTotals(results) + "\n");
process.exit(results.some(failed) ? 1 : 0);

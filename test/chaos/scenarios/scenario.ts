/** What a chaos scenario is, and what the runner gives each run. */
import type { RunResult } from "../result.ts";
import type { ChaosStack, ChaosStackOptions, Log } from "../stack.ts";

export type ScenarioOptions = {
  messages: number;
  numbers: number;
  /** Messages per second. */
  rate: number;
  /** edge-pause: how long the edge stays frozen, in seconds. */
  pauseS: number;
  /** receiver-down: how long the receiver stays down, in seconds. */
  downS: number;
};

export type RunContext = {
  /** 1-based. */
  run: number;
  options: ScenarioOptions;
  log: Log;
  /** Starts this run's stack; the runner stops it (keeping the logs if the run failed). */
  startStack(opts: Omit<ChaosStackOptions, "name" | "log">): Promise<ChaosStack>;
};

export type Scenario = {
  name: string;
  summary: string;
  /** What `--messages`, `--numbers` and `--rate` default to for this scenario. */
  defaults: Pick<ScenarioOptions, "messages" | "numbers" | "rate">;
  run(ctx: RunContext): Promise<Omit<RunResult, "scenario" | "run" | "seconds">>;
};

/**
 * What `/health` says about the edge, to anyone: whether it is configured,
 * whether D1 answers (and how fast), and how many fleet processes and
 * connected numbers there are (edge-config.ts says what configured means). Counts and secret NAMES only: nothing of any
 * project (no ids, no names) and no value of any setting.
 */
import { connectedCount } from "../db/operator-facts.ts";
import { db } from "../db/client.ts";
import type { Env } from "../env.ts";
import { directoryOf } from "../objects/stubs.ts";
import { configProblems, REQUIRED_SECRETS, type RequiredSecret } from "./edge-config.ts";

// Every required secret is a setting the Worker declares.
REQUIRED_SECRETS satisfies readonly (keyof Env)[];

export type EdgeStatus = {
  ok: boolean;
  configured: boolean;
  missing: RequiredSecret[];
  /** In production only: set, but not usable (too short, not random, the example value, not an https URL). */
  malformed: RequiredSecret[];
  d1: { ok: boolean; latency_ms: number | null };
  fleets: number | null;
  connected_numbers: number | null;
};

export async function edgeStatus(env: Env): Promise<EdgeStatus> {
  const { missing, malformed } = configProblems(env);
  const configured = missing.length === 0 && malformed.length === 0;
  const started = Date.now();
  const [connected, fleets] = await Promise.all([
    connectedCount(db(env.DB)).then(
      (n) => ({ n, latency_ms: Date.now() - started }),
      (err: unknown) => {
        console.error("health: D1 did not answer:", err instanceof Error ? err.message : err);
        return null;
      },
    ),
    // The directory being unreachable is worth showing, but D1 and the configuration decide the status.
    directoryOf(env)
      .fleets()
      .then(
        (list) => list.length,
        () => null,
      ),
  ]);
  return {
    ok: configured && connected !== null,
    configured,
    missing,
    malformed,
    d1: { ok: connected !== null, latency_ms: connected?.latency_ms ?? null },
    fleets,
    connected_numbers: connected?.n ?? null,
  };
}

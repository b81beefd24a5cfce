/**
 * What `/health` says about the edge, to anyone: whether it is configured,
 * whether D1 answers (and how fast), and how many fleet processes and
 * connected numbers there are. Counts and secret NAMES only: nothing of any
 * project (no ids, no names) and no value of any setting.
 */
import { connectedCount } from "../db/operator-facts.ts";
import { db } from "../db/client.ts";
import type { Env } from "../env.ts";
import { directoryOf } from "../objects/stubs.ts";

/**
 * Without these the edge cannot do its job: /admin and /fleet are closed
 * without their tokens, OTP sends need the data key, and received media
 * needs the R2 keys to presign with.
 */
export const REQUIRED_SECRETS = [
  "POMBO_ADMIN_TOKEN",
  "POMBO_FLEET_TOKEN",
  "POMBO_DATA_KEY",
  "POMBO_R2_S3_ENDPOINT",
  "POMBO_R2_ACCESS_KEY_ID",
  "POMBO_R2_SECRET_ACCESS_KEY",
] as const satisfies readonly (keyof Env)[];

export type EdgeStatus = {
  ok: boolean;
  configured: boolean;
  missing: (typeof REQUIRED_SECRETS)[number][];
  d1: { ok: boolean; latency_ms: number | null };
  fleets: number | null;
  connected_numbers: number | null;
};

export async function edgeStatus(env: Env): Promise<EdgeStatus> {
  const missing = REQUIRED_SECRETS.filter((name) => !env[name]?.trim());
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
    ok: missing.length === 0 && connected !== null,
    configured: missing.length === 0,
    missing,
    d1: { ok: connected !== null, latency_ms: connected?.latency_ms ?? null },
    fleets,
    connected_numbers: connected?.n ?? null,
  };
}

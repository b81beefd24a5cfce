/**
 * Entry point of a fleet process: `npm run fleet` (or `node fleet/main.ts`).
 *
 * SIGTERM / SIGINT drain: every WhatsApp socket ends without logging out,
 * every lease is released so another process can take the number at once,
 * and the process exits 0. A second signal, or a drain that hangs, exits
 * anyway: the leases then lapse on their own after LEASE_TTL_MS.
 */
import { ConfigError, loadConfig } from "./config.ts";
import { guardConsole } from "./console-guard.ts";
import { Fleet } from "./fleet.ts";
import { createLogger } from "./logger.ts";
import { errorText } from "./errors.ts";
import { serveMetrics } from "./metrics.ts";

const DRAIN_DEADLINE_MS = 5_000;

export async function runFleet(env: NodeJS.ProcessEnv = process.env): Promise<Fleet> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pombo fleet: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, { fleet_id: config.fleetId }, config.logFormat);
  guardConsole(logger);
  let fleet: Fleet;
  try {
    fleet = new Fleet({ config, logger });
  } catch (err) {
    // The spool is where received messages wait: without it the process must not take numbers.
    process.stderr.write(`pombo fleet: cannot open the inbound spool in ${config.dataDir}: ${errorText(err)}\n`);
    process.exit(1);
  }

  if (config.metricsPort !== null) {
    try {
      await serveMetrics(fleet.metrics, { host: config.metricsHost, port: config.metricsPort, logger });
    } catch (err) {
      // A health check that cannot reach the process would restart it forever: say so before taking any number.
      process.stderr.write(`pombo fleet: cannot serve metrics on ${config.metricsHost}:${config.metricsPort}: ${errorText(err)}\n`);
      process.exit(1);
    }
  }

  let draining = false;
  const shutdown = (signal: string) => {
    if (draining) {
      logger.warn({ signal }, "second signal, exiting without finishing the drain");
      process.exit(1);
    }
    draining = true;
    logger.info({ signal }, "signal received, draining");
    setTimeout(() => {
      logger.error("drain took too long, exiting");
      process.exit(0);
    }, DRAIN_DEADLINE_MS).unref();
    fleet.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: String(err) }, "drain failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // One number's stray promise must not take the other ninety-nine down.
  process.on("unhandledRejection", (err) => logger.error({ err: String(err) }, "unhandled rejection"));

  fleet.start();
  return fleet;
}

/**
 * V8 sizes the young generation for throughput (32 MB semi-spaces on this
 * kind of machine), and a fleet that connects a hundred numbers at once
 * keeps that garbage headroom as RSS: 3.8 MB per number instead of 2.3 MB
 * (`npm run bench:fleet -- --numbers 100`). The flag only works at startup,
 * so the process re-executes itself with it, keeping its pid and every
 * launcher (npm run fleet, npm start, the tests) in step.
 */
const YOUNG_GENERATION_FLAG = "--max-semi-space-size=8";

function withFleetNodeFlags(): void {
  if (process.execArgv.some((arg) => arg.startsWith("--max-semi-space-size"))) return;
  const argv = [process.execPath, YOUNG_GENERATION_FLAG, ...process.execArgv, ...process.argv.slice(1)];
  process.execve?.(process.execPath, argv, process.env);
}

if (import.meta.main) {
  withFleetNodeFlags();
  await runFleet();
}

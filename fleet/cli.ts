/**
 * Operator commands.
 *
 *   node fleet/cli.ts qr <instance_id> [--offline-timeout <seconds>]
 *                                        show the instance's pairing QR in the terminal (qr-watch.ts)
 *   node fleet/cli.ts [run]              start a fleet process (same as fleet/main.ts)
 *
 * What goes wrong is said in one line on stderr with a non-zero exit, never
 * as a stack trace.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "./config.ts";
import { errorText } from "./errors.ts";
import { DEFAULT_OFFLINE_TIMEOUT_S, QrStop, showQr } from "./qr-watch.ts";

const QR_USAGE = "usage: npm run fleet:qr -- <instance_id> [--offline-timeout <seconds>]";

async function qr(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { "offline-timeout": { type: "string" } } });
  } catch (err) {
    process.stderr.write(`pombo fleet:qr: ${errorText(err)}\n${QR_USAGE}\n`);
    return 2;
  }
  const [instanceId, ...extra] = parsed.positionals;
  const timeoutText = parsed.values["offline-timeout"];
  const timeoutS = timeoutText === undefined ? DEFAULT_OFFLINE_TIMEOUT_S : Number(timeoutText);
  if (!instanceId || extra.length || !Number.isFinite(timeoutS) || timeoutS <= 0) {
    if (timeoutText !== undefined && !(timeoutS > 0)) process.stderr.write(`pombo fleet:qr: --offline-timeout must be a number of seconds above 0, got "${timeoutText}"\n`);
    process.stderr.write(`${QR_USAGE}\n`);
    return 2;
  }
  try {
    await showQr(instanceId, process.env, { offlineTimeoutMs: timeoutS * 1000 });
    return 0;
  } catch (err) {
    // Anything else is a bug, but the operator still gets one line, not a stack.
    process.stderr.write(`pombo fleet:qr: ${err instanceof QrStop || err instanceof ConfigError ? err.message : `unexpected error: ${errorText(err)}`}\n`);
    return 1;
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "run") {
    const { runFleet } = await import("./main.ts");
    await runFleet();
    return;
  }
  if (command === "qr") process.exit(await qr(rest));
  process.stderr.write("usage: node fleet/cli.ts [run] | qr <instance_id> [--offline-timeout <seconds>]\n");
  process.exit(2);
}

if (import.meta.main) await main(process.argv.slice(2));

/**
 * Operator commands.
 *
 *   node fleet/cli.ts qr <instance_id>   show the instance's pairing QR in the terminal
 *   node fleet/cli.ts [run]              start a fleet process (same as fleet/main.ts)
 *
 * `qr` polls the edge rather than the fleet: whichever fleet process holds
 * the number, the edge has its latest QR.
 */
import QRCode from "qrcode";
import { ConfigError, loadEdgeConfig } from "./config.ts";
import { errorText } from "./errors.ts";

const POLL_INTERVAL_MS = 2_000;

type QrView = { state: string; qr: string | null; qr_png?: string | null };

export async function showQr(instanceId: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { edgeUrl, fleetToken } = loadEdgeConfig(env);
  const url = `${edgeUrl}/fleet/instances/${encodeURIComponent(instanceId)}/qr`;
  let shownQr: string | null = null;
  let shownState: string | null = null;
  let shownError: string | null = null;

  for (;;) {
    try {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${fleetToken}` } });
      if (!res.ok) throw new Error(`edge answered ${res.status} ${res.statusText}`);
      const view = (await res.json()) as QrView;
      shownError = null;
      if (view.state === "connected") {
        process.stdout.write(`${instanceId}: connected\n`);
        return;
      }
      if (view.qr && view.qr !== shownQr) {
        shownQr = view.qr;
        const art = await QRCode.toString(view.qr, { type: "terminal", small: true });
        process.stdout.write(`\n${art}\nScan with WhatsApp > Linked devices (${instanceId}, ${view.state})\n`);
      } else if (view.state !== shownState && !view.qr) {
        process.stdout.write(`${instanceId}: ${view.state}, waiting for a QR...\n`);
      }
      shownState = view.state;
    } catch (err) {
      const text = errorText(err);
      // Say it once, then keep trying quietly: the edge may just be starting.
      if (text !== shownError) process.stderr.write(`${instanceId}: ${text} (retrying)\n`);
      shownError = text;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "run") {
    const { runFleet } = await import("./main.ts");
    await runFleet();
    return;
  }
  if (command === "qr") {
    const instanceId = rest[0];
    if (!instanceId) {
      process.stderr.write("usage: node fleet/cli.ts qr <instance_id>\n");
      process.exit(2);
    }
    try {
      await showQr(instanceId);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`pombo fleet: ${err.message}\n`);
        process.exit(1);
      }
      throw err;
    }
    process.exit(0);
  }
  process.stderr.write("usage: node fleet/cli.ts [run] | qr <instance_id>\n");
  process.exit(2);
}

if (import.meta.main) await main(process.argv.slice(2));

/**
 * Runs N crabline WhatsApp peers in their own process for bench/fleet.ts, so
 * that the fleet's RSS is the fleet's alone and the peers' CPU is accounted
 * apart. Prints one JSON line `{ accessToken, peers: [{ phone, host, port, path }] }`
 * on stdout once they listen; exits when stdin closes or on SIGTERM/SIGINT.
 *
 *   node bench/peers-process.ts <n>
 */
import { startPeers } from "../test/harness/peers.ts";

const n = Number(process.argv[2] ?? "0");
if (!Number.isInteger(n) || n < 1) {
  process.stderr.write("usage: node bench/peers-process.ts <n>\n");
  process.exit(2);
}

const peers = await startPeers(n);
let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await Promise.race([peers.close(), new Promise((r) => setTimeout(r, 5_000))]);
  process.exit(0);
};
process.on("SIGTERM", close);
process.on("SIGINT", close);
process.stdin.on("end", close);
process.stdin.on("close", close);
process.stdin.resume();

process.stdout.write(
  JSON.stringify({
    accessToken: peers.accessToken,
    peers: peers.peers.map((p) => ({ phone: p.phone, host: p.host, port: p.port, path: p.path })),
  }) + "\n",
);

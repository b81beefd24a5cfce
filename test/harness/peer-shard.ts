/**
 * A shard of WhatsApp peers in its own process, started by
 * `PeerProcesses` (peer-processes.ts): the peers (crabline) cost about as
 * much CPU per message as the senders, so one process hosting every peer
 * would cap what any sender can reach.
 *
 *   node test/harness/peer-shard.ts <count> <phoneBase>
 *
 * Starts `count` peers for phones phoneBase+1 .. phoneBase+count and writes
 * JSON lines on stdout:
 *   { type: "manifest", accessToken, peers: [{ phone, host, port, path }] }
 *   { type: "arrival", peer, waId, to, at, text }   one per message a peer decrypted
 *     (peer: index in this shard; at: the peer's own stamp, ms since epoch;
 *      text: the plain text, or null for other message types)
 *   { type: "injected", id, waId, at } | { type: "injected", id, error }
 *     the answer to an `inject` line (at: when the peer had put the message
 *     on the number's socket, ms since epoch)
 * stdin lines { "register": ["<phone>", ...] } put numbers in the shard's
 * phone directory; { "inject": { id, peer, message } } has peer `peer` (index
 * in this shard) put `message` (an InboundInjection: a customer writing to
 * the number) on its number's socket, encrypted as the customer's phone does.
 * Closes its peers and exits when stdin closes or on SIGTERM.
 */
import { createInterface } from "node:readline";
import { startPeers } from "./peers.ts";
import { summarize } from "../peer/decode.ts";
import type { InboundInjection } from "../peer/peer.ts";

// libsignal logs sessions with console.log; stdout is our channel to the bench.
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = () => {};

const [countArg, baseArg] = process.argv.slice(2);
const count = Number(countArg);
const phoneBase = Number(baseArg);
if (!Number.isInteger(count) || count < 1 || !Number.isSafeInteger(phoneBase)) {
  process.stderr.write("usage: node test/harness/peer-shard.ts <count> <phoneBase>\n");
  process.exit(2);
}
const out = (value: object) => process.stdout.write(JSON.stringify(value) + "\n");

const peers = await startPeers(count, { phoneBase });
let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await Promise.race([peers.close(), new Promise((r) => setTimeout(r, 5_000))]);
  process.exit(0);
};
process.on("SIGTERM", close);
process.on("SIGINT", close);
createInterface({ input: process.stdin })
  .on("line", (line) => {
    const msg = JSON.parse(line) as { register?: string[]; inject?: { id: number; peer: number; message: InboundInjection } };
    for (const phone of msg.register ?? []) peers.directory.register(phone);
    if (msg.inject) inject(msg.inject);
  })
  .on("close", close);

function inject({ id, peer, message }: { id: number; peer: number; message: InboundInjection }): void {
  const target = peers.peers[peer];
  if (!target) {
    out({ type: "injected", id, error: `no peer #${peer} in this shard` });
    return;
  }
  target.inject(message).then(
    (waId) => out({ type: "injected", id, waId, at: Date.now() }),
    (err: Error) => out({ type: "injected", id, error: err.message }),
  );
}

out({
  type: "manifest",
  accessToken: peers.accessToken,
  peers: peers.peers.map((p) => ({ phone: p.phone, host: p.host, port: p.port, path: p.path })),
});

// Stream what the peers decrypted. The peer stamps each message when it decrypts it,
// so this polling interval does not blur the times.
const seen = peers.peers.map(() => 0);
setInterval(() => {
  for (const [i, peer] of peers.peers.entries()) {
    const accepted = peer.accepted();
    for (const m of accepted.slice(seen[i])) {
      const s = summarize(m.message);
      out({ type: "arrival", peer: i, waId: m.id, to: m.to, at: Date.parse(m.at), text: s.type === "text" ? s.text : null });
    }
    seen[i] = accepted.length;
  }
}, 20);

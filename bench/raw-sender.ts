/**
 * Raw Baileys senders for bench/send.ts, in their own process (as the fleet's
 * sockets are), so that the raw baseline has the same process layout as the
 * pipeline: senders in one process, the WhatsApp peers in the bench process.
 *
 *   node bench/raw-sender.ts
 *
 * Protocol, one JSON object per line:
 *   stdin  1st line  { window: W, numbers: [{ url, creds, messages: [{ to, body }] }] }
 *   stdout           { type: "ready", connect_ms }        every socket is open
 *   stdin            "go"
 *   stdout           { type: "done", started_at, finished_at, sent, acked, errors, first_error, closed }
 *                    (Date.now() times: the bench compares them with the peers' arrival times)
 * The process closes its sockets and exits when stdin closes.
 *
 * A message is in flight from the moment it is handed to `sendMessage` until
 * the server's `ack` for its id comes back (Baileys resolves `sendMessage` as
 * soon as the frame is written, which is no flow control at all). Each socket
 * keeps at most W messages in flight: W = 1 is "one at a time per number",
 * W = 0 means no limit (every message handed over at once).
 */
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { rawConnect, type RawConnectResult } from "../test/harness/raw-baileys.ts";
import type { RawPlan } from "./raw-sender-process.ts";

const CONNECT_TIMEOUT_MS = 60_000;
/** A message not acknowledged within this long counts as an error and frees its slot. */
const ACK_TIMEOUT_MS = 30_000;
const out = (value: object) => process.stdout.write(JSON.stringify(value) + "\n");
// libsignal logs sessions with console.log; stdout is our channel to the bench.
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = () => {};

const lines = createInterface({ input: process.stdin });
const queue: string[] = [];
const waiters: ((line: string | null) => void)[] = [];
let ended = false;
lines.on("line", (line) => {
  const w = waiters.shift();
  if (w) w(line);
  else queue.push(line);
});
lines.on("close", () => {
  ended = true;
  for (const w of waiters.splice(0)) w(null);
});
const nextLine = () =>
  new Promise<string | null>((resolve) => {
    if (queue.length) resolve(queue.shift()!);
    else if (ended) resolve(null);
    else waiters.push(resolve);
  });

const sockets: RawConnectResult[] = [];
const closeAll = () => {
  for (const s of sockets) s.close();
};
process.on("SIGTERM", () => {
  closeAll();
  process.exit(0);
});

const first = await nextLine();
if (!first) process.exit(0);
const plan = JSON.parse(first) as RawPlan;

const t0 = performance.now();
for (const n of plan.numbers) sockets.push(rawConnect(n.url, n.creds));
const timer = setTimeout(() => {
  process.stderr.write(`raw-sender: sockets not open within ${CONNECT_TIMEOUT_MS} ms\n`);
  closeAll();
  process.exit(1);
}, CONNECT_TIMEOUT_MS);
try {
  await Promise.all(sockets.map((s) => s.opened));
} catch (err) {
  process.stderr.write(`raw-sender: ${(err as Error).message}\n`);
  closeAll();
  process.exit(1);
}
clearTimeout(timer);

// Server acks, by message id, per socket.
type AckWaiter = { resolve: () => void; reject: (err: Error) => void };
let closed = 0;
const ackWaiters = sockets.map((s) => {
  const pending = new Map<string, AckWaiter>();
  const ws = (s.sock as unknown as { ws: NodeJS.EventEmitter }).ws;
  ws.on("CB:ack,class:message", (node: { attrs: { id?: string; error?: string } }) => {
    const w = node.attrs.id ? pending.get(node.attrs.id) : undefined;
    if (!w) return;
    pending.delete(node.attrs.id!);
    if (node.attrs.error) w.reject(new Error(`server nack ${node.attrs.error}`));
    else w.resolve();
  });
  s.sock.ev.on("connection.update", (u) => {
    if (u.connection !== "close") return;
    closed++;
    for (const w of pending.values()) w.reject(new Error("connection closed before the server ack"));
    pending.clear();
  });
  return pending;
});
out({ type: "ready", connect_ms: Math.round(performance.now() - t0) });

const go = await nextLine();
if (go !== "go") {
  closeAll();
  process.exit(0);
}

let sent = 0;
let acked = 0;
let errors = 0;
let firstError = "";
/** WhatsApp Web's id shape, chosen here so the ack can be waited for before the send. */
const messageId = () => `3EB0${randomBytes(10).toString("hex").toUpperCase()}`;

const sendOne = async (k: number, m: { to: string; body: string }) => {
  const id = messageId();
  const pending = ackWaiters[k]!;
  const ack = new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    setTimeout(() => {
      if (pending.delete(id)) reject(new Error(`no server ack within ${ACK_TIMEOUT_MS} ms`));
    }, ACK_TIMEOUT_MS).unref();
  });
  ack.catch(() => {});
  try {
    await sockets[k]!.sock.sendMessage(m.to, { text: m.body, linkPreview: null }, { messageId: id });
    sent++;
    await ack;
    acked++;
  } catch (err) {
    pending.delete(id);
    errors++;
    firstError ||= err instanceof Error ? err.message : String(err);
  }
};

const startedAt = Date.now();
await Promise.all(
  plan.numbers.map(async (n, k) => {
    const width = plan.window > 0 ? Math.min(plan.window, n.messages.length) : n.messages.length;
    let next = 0;
    await Promise.all(
      Array.from({ length: width }, async () => {
        while (next < n.messages.length) await sendOne(k, n.messages[next++]!);
      }),
    );
  }),
);
out({ type: "done", started_at: startedAt, finished_at: Date.now(), sent, acked, errors, first_error: firstError, closed });

// Keep the sockets open until the bench has seen every arrival, then leave.
while ((await nextLine()) !== null);
closeAll();
setTimeout(() => process.exit(0), 200);

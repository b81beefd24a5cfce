/**
 * `npm run bench:spool -- --messages 5000`
 *
 * What the inbound spool costs a fleet process, on this machine's disk:
 *
 * 1. **Hook**: the time Baileys' `beforeMessageAck` takes per message (a
 *    copy, the translation, sealing, one fsynced INSERT), i.e. how long a
 *    receipt waits. The socket handles its messages one at a time, so
 *    1 / p50 is about the most one number can take per second.
 * 2. **Drain**: rows read back, unsealed, translated and deleted (fsynced)
 *    against an edge that answers at once: the drainer's own ceiling.
 * 3. **NORMAL**: the same INSERT with `synchronous = NORMAL` instead of
 *    FULL, for comparison (NORMAL survives a SIGKILL, not a power cut).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { WAMessage } from "@whiskeysockets/baileys";
import pino from "pino";
import { SessionCipher } from "../fleet/cipher.ts";
import { edgeCourier } from "../fleet/inbound-courier.ts";
import { InboundDrainer } from "../fleet/inbound-drainer.ts";
import { inboundPreparer } from "../fleet/inbound-prepare.ts";
import { InboundReceiver } from "../fleet/inbound-receiver.ts";
import { InboundSpool } from "../fleet/inbound-spool.ts";
import type { EdgeLink } from "../fleet/edge-link.ts";
import type { InboundMessage } from "../shared/protocol.ts";
import { commandLine, int } from "../test/harness/cli.ts";
import { stats } from "../test/harness/figures.ts";

const values = commandLine("usage: npm run bench:spool -- [--messages 5000] [--dir <directory>] [--json]\n", {
  messages: { type: "string", default: "5000" },
  dir: { type: "string" },
  json: { type: "boolean", default: false },
});
const messages = int("messages", values.messages!, 1);
const dir = values.dir ?? mkdtempSync(join(tmpdir(), "pombo-bench-spool-"));
const silent = pino({ level: "silent" });
const cipher = new SessionCipher("bench spool session key");
const self = { jid: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid" };
const INSTANCE = "inst_bench";

/** A customer's text as Baileys hands it over, about the size of a chat message. */
const message = (i: number): WAMessage => ({
  key: { remoteJid: `55119${String(i % 500).padStart(8, "0")}@s.whatsapp.net`, id: `3EB0BENCH${i}`, fromMe: false },
  messageTimestamp: 1_750_000_000 + i,
  pushName: "Cliente",
  message: { conversation: `Olá, gostaria de saber o status do pedido ${i}. Obrigado!`.repeat(2) },
});

const ms = (ns: bigint) => Number(ns) / 1e6;
const round = (x: number) => Math.round(x * 1000) / 1000;

async function main() {
  const spool = InboundSpool.open({ dir, logger: silent, maxRows: messages + 1, minFreeBytes: 0 });
  const link: EdgeLink = { call: (async () => ({})) as EdgeLink["call"], emit: () => {} };
  const receiver = new InboundReceiver({ instanceId: INSTANCE, link, spool, cipher, logger: silent });

  // 1. Hook
  const hook: number[] = [];
  const hookStart = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    const t = process.hrtime.bigint();
    await receiver.beforeAck(message(i), "notify", self);
    hook.push(ms(process.hrtime.bigint() - t));
  }
  const hookSeconds = ms(process.hrtime.bigint() - hookStart) / 1000;

  // 2. Drain, against an edge that stores at once.
  let stored = 0;
  const instantEdge: EdgeLink = {
    emit: () => {},
    call: (async (_method: string, params: InboundMessage) => {
      stored++;
      return { message_id: params.wa_message_id, duplicate: false };
    }) as EdgeLink["call"],
  };
  const courier = edgeCourier({ linkFor: () => instantEdge, edgeUrl: "http://127.0.0.1:9", token: "unused" });
  const drainer = new InboundDrainer({ spool, courier, logger: silent, prepare: inboundPreparer({ cipher, courier, logger: silent }) });
  const drainStart = process.hrtime.bigint();
  drainer.start();
  await drainer.idle(600_000);
  const drainSeconds = ms(process.hrtime.bigint() - drainStart) / 1000;
  drainer.stop();
  spool.close();

  // 3. The same row with synchronous = NORMAL.
  const normal = new DatabaseSync(join(dir, "normal.db"));
  normal.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  normal.exec("CREATE TABLE inbound (seq INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT, chat_jid TEXT, wa_message_id TEXT, offline INTEGER, received_at INTEGER, payload BLOB, UNIQUE (instance_id, wa_message_id))");
  const insert = normal.prepare("INSERT INTO inbound (instance_id, chat_jid, wa_message_id, offline, received_at, payload) VALUES (?, ?, ?, 0, ?, ?)");
  const payload = new Uint8Array(600);
  const normalTimes: number[] = [];
  for (let i = 0; i < messages; i++) {
    const t = process.hrtime.bigint();
    insert.run(INSTANCE, "x@s.whatsapp.net", `N${i}`, Date.now(), payload);
    normalTimes.push(ms(process.hrtime.bigint() - t));
  }
  normal.close();

  const h = stats(hook);
  const n = stats(normalTimes);
  const report = {
    messages,
    hook_ms: { p50: round(h.p50), p99: round(h.p99), max: round(h.max) },
    hook_per_s: Math.round(messages / hookSeconds),
    drain_per_s: Math.round(stored / drainSeconds),
    drained: stored,
    normal_insert_ms: { p50: round(n.p50), p99: round(n.p99) },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(
      [
        `inbound spool, ${messages} messages, in ${dir}`,
        `  hook (copy, translate, seal, fsynced insert): p50 ${report.hook_ms.p50} ms, p99 ${report.hook_ms.p99} ms, max ${report.hook_ms.max} ms; ${report.hook_per_s} messages/s one at a time`,
        `  drain (read, unseal, translate, deliver, fsynced delete): ${report.drain_per_s} messages/s (${stored} delivered)`,
        `  insert alone with synchronous=NORMAL: p50 ${report.normal_insert_ms.p50} ms, p99 ${report.normal_insert_ms.p99} ms`,
        "",
      ].join("\n"),
    );
  }
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}

await main();

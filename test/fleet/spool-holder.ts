/**
 * A stand-in fleet process for the spool tests: opens a spool in `argv[2]`,
 * writes `argv[3]` rows, prints `ready <file>`, then lives until killed.
 */
import pino from "pino";
import { InboundSpool } from "../../fleet/inbound-spool.ts";

const [dir, count] = process.argv.slice(2);
const spool = InboundSpool.open({ dir: dir!, logger: pino({ level: "silent" }), maxRows: 1_000_000, minFreeBytes: 0 });
for (let i = 0; i < Number(count); i++) {
  spool.put({
    instance_id: "inst_holder",
    chat_jid: `551190000000${i % 3}@s.whatsapp.net`,
    wa_message_id: `HOLDER${i}`,
    offline: false,
    received_at: Date.now(),
    payload: Buffer.from(`sealed ${i}`),
  });
}
process.stdout.write(`ready ${spool.path}\n`);
setInterval(() => {}, 60_000);

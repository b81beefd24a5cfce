/**
 * The inbound spool: received messages on the fleet's disk until the edge
 * stored them. Real SQLite files in a temporary directory; other fleet
 * processes are real child processes (test/fleet/spool-holder.ts), so the
 * file locks are the operating system's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { proto, type WAMessage } from "@whiskeysockets/baileys";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import { translateInbound } from "../../fleet/inbound-translate.ts";
import { InboundSpool, type NewSpoolRow } from "../../fleet/inbound-spool.ts";
import { openSpooled, sealSpooled } from "../../fleet/spooled-message.ts";
import { spoolDir } from "./inbound-harness.ts";

const silent = pino({ level: "silent" });
const cipher = new SessionCipher("spool test session key");
const HOLDER = fileURLToPath(new URL("./spool-holder.ts", import.meta.url));
const CUSTOMER = "5511988887777@s.whatsapp.net";
const self = { jid: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid" };

const open = (dir: string, room: { maxRows?: number; freeBytes?: () => number; minFreeBytes?: number } = {}) =>
  InboundSpool.open({ dir, logger: silent, maxRows: room.maxRows ?? 1_000, minFreeBytes: room.minFreeBytes ?? 0, recheckMs: 20, freeBytes: room.freeBytes });

const row = (id: string, fields: Partial<NewSpoolRow> = {}): NewSpoolRow => ({
  instance_id: "inst_1",
  chat_jid: CUSTOMER,
  wa_message_id: id,
  offline: false,
  received_at: 1_750_000_000_000,
  payload: Buffer.from(`payload of ${id}`),
  ...fields,
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** Another fleet process holding its own spool in `dir`, with `rows` rows. Resolves once its lock is held. */
async function holder(dir: string, rows: number): Promise<{ child: ChildProcess; file: string }> {
  const child = spawn(process.execPath, [HOLDER, dir, String(rows)], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const file = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /ready (\S+)\n/.exec(out);
      if (ready) resolve(ready[1]!);
    });
    child.once("exit", (code) => reject(new Error(`spool holder exited ${code} before it was ready`)));
  });
  return { child, file };
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });

describe("inbound spool", () => {
  it("keeps its rows across a close: the next process in the directory adopts them, in order, and removes the old file", () => {
    const dir = spoolDir();
    const first = open(dir);
    expect(first.put(row("A1"))).toBe(true);
    expect(first.put(row("B1", { chat_jid: "5511977776666@s.whatsapp.net", offline: true }))).toBe(true);
    expect(first.put(row("A2"))).toBe(true);
    first.close();
    expect(existsSync(first.path)).toBe(true);

    const next = open(dir);
    expect(next.page(0, 10)).toEqual([]);
    expect(next.adopt()).toBe(3);
    const rows = next.page(0, 10);
    expect(rows.map((r) => [r.wa_message_id, r.chat_jid, r.offline])).toEqual([
      ["A1", CUSTOMER, false],
      ["B1", "5511977776666@s.whatsapp.net", true],
      ["A2", CUSTOMER, false],
    ]);
    expect(Buffer.from(rows[0]!.payload).toString()).toBe("payload of A1");
    expect(next.size).toBe(3);
    expect(existsSync(first.path)).toBe(false);
    expect(readdirSync(dir).filter((f) => !f.startsWith(basename(next.path)))).toEqual([]);
    next.close();
  });

  it("adopts the file of a fleet process that was SIGKILLed, and never the file of one that is alive", async () => {
    const dir = spoolDir();
    const mine = open(dir);
    const alive = await holder(dir, 5);
    // Its lock is held: the file is left alone, however often we look.
    expect(mine.adopt()).toBe(0);
    expect(mine.adopt()).toBe(0);
    expect(existsSync(alive.file)).toBe(true);
    expect(mine.size).toBe(0);

    await killed(alive.child);
    expect(mine.adopt()).toBe(5);
    expect(mine.page(0, 10).map((r) => r.wa_message_id)).toEqual(["HOLDER0", "HOLDER1", "HOLDER2", "HOLDER3", "HOLDER4"]);
    expect(existsSync(alive.file)).toBe(false);
    mine.close();
  });

  it("one row per instance and WhatsApp id: writing it again (the hook, then its upsert; a replay) changes nothing", () => {
    const spool = open(spoolDir());
    expect(spool.put(row("A1"))).toBe(true);
    expect(spool.put(row("A1", { payload: Buffer.from("other") }))).toBe(false);
    expect(spool.put(row("A1", { instance_id: "inst_2" }))).toBe(true);
    expect(spool.size).toBe(2);
    expect(Buffer.from(spool.page(0, 10)[0]!.payload).toString()).toBe("payload of A1");
    spool.close();
  });

  it("keeps customers' messages sealed on disk: the text is nowhere in the files, and reads back only with the fleet's key, under its own id", () => {
    const dir = spoolDir();
    const spool = open(dir);
    const text = "Meu CPF é 123.456.789-00, código 739120";
    const message: WAMessage = { key: { remoteJid: CUSTOMER, id: "3EB0SECRET", fromMe: false }, messageTimestamp: 1_750_000_000, message: { conversation: text } };
    const payload = sealSpooled(cipher, "inst_1", { message, self });
    spool.put(row("3EB0SECRET", { payload }));
    const bytes = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    expect(bytes.length).toBeGreaterThan(0);
    for (const needle of [text, "739120", Buffer.from(text).toString("base64").slice(0, 16)]) {
      expect(bytes.includes(Buffer.from(needle))).toBe(false);
    }
    const stored = spool.page(0, 1)[0]!;
    expect(openSpooled(cipher, "inst_1", "3EB0SECRET", stored.payload).message.message?.conversation).toBe(text);
    expect(() => openSpooled(cipher, "inst_1", "3EB0OTHER", stored.payload)).toThrow(/does not authenticate/);
    expect(() => openSpooled(new SessionCipher("another key"), "inst_1", "3EB0SECRET", stored.payload)).toThrow(/does not authenticate/);
    spool.close();
  });

  it("a message comes back from the spool as Baileys gave it (bytes, numbers, LID alternatives), so it reads the same", () => {
    // As Baileys decodes it: a protobuf object, whose own JSON form would turn bytes into text and longs into strings.
    const content = proto.Message.decode(
      proto.Message.encode({
        audioMessage: { url: "https://mmg.whatsapp.net/v/t62/abc", mediaKey: Buffer.from([1, 2, 3, 250]), fileLength: 48_213, ptt: true, mimetype: "audio/ogg; codecs=opus" },
      }).finish(),
    );
    const original: WAMessage = {
      key: { remoteJid: "217654321098765@lid", remoteJidAlt: CUSTOMER, id: "3EB0AUDIO", fromMe: false },
      messageTimestamp: 1_750_000_123,
      pushName: "Maria",
      message: content,
    };
    const back = openSpooled(cipher, "inst_1", "3EB0AUDIO", sealSpooled(cipher, "inst_1", { message: original, self })).message;
    const audio = back.message!.audioMessage!;
    expect(Buffer.isBuffer(audio.mediaKey)).toBe(true);
    expect([...(audio.mediaKey as Buffer)]).toEqual([1, 2, 3, 250]);
    expect(audio.fileLength).toBe(48_213);
    const ctx = { self, offline: false, sentByUs: () => false, nowMs: 0 };
    expect(translateInbound(back, ctx)).toEqual(translateInbound(original, ctx));
    expect(translateInbound(back, ctx)).toMatchObject({
      message: { chat_jid: "217654321098765@lid", chat_jid_alt: CUSTOMER, type: "audio" },
      media: { declared_size: 48_213, ptt: true },
    });
  });

  it("never drops for room: past its row limit, or with the disk nearly full, a writer waits until rows go or space frees", async () => {
    let free = 10_000;
    const spool = open(spoolDir(), { maxRows: 2, minFreeBytes: 1_000, freeBytes: () => free });
    spool.put(row("A1"));
    spool.put(row("A2"));
    let admitted = false;
    const waiting = spool.admit().then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(admitted).toBe(false);
    spool.remove(spool.page(0, 1)[0]!.seq);
    await waiting;
    expect(admitted).toBe(true);

    free = 10;
    admitted = false;
    const low = spool.admit().then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(admitted).toBe(false);
    free = 10_000;
    await low;
    expect(admitted).toBe(true);

    // A closed spool takes nothing: the hook fails, and Baileys nacks.
    free = 10;
    const refused = spool.admit();
    spool.close();
    await expect(refused).rejects.toThrow("the inbound spool is closed");
    expect(() => spool.put(row("A3"))).toThrow("the inbound spool is closed");
  });

  it("pages in order without reading the whole spool, and keeps a row it cannot deliver out of the way (held), on disk", () => {
    const spool = open(spoolDir(), { maxRows: 10_000 });
    for (let i = 0; i < 1_000; i++) spool.put(row(`M${i}`));
    const first = spool.page(0, 100);
    expect(first).toHaveLength(100);
    expect(first.map((r) => r.wa_message_id)).toEqual(Array.from({ length: 100 }, (_, i) => `M${i}`));
    expect(spool.page(first.at(-1)!.seq, 3).map((r) => r.wa_message_id)).toEqual(["M100", "M101", "M102"]);
    spool.hold(first[0]!.seq, "sealed with another key");
    expect(spool.page(0, 1)[0]!.wa_message_id).toBe("M1");
    expect(spool.size).toBe(1_000);
    expect(spool.waiting).toBe(999);
    spool.close();
  });

  it("a row held back by a process that is gone gets another try in the next one (the right key restored, a fixed edge)", () => {
    const dir = spoolDir();
    const first = open(dir);
    first.put(row("A1"));
    first.put(row("A2"));
    first.hold(first.page(0, 1)[0]!.seq, "refused: invalid_request");
    expect(first.waiting).toBe(1);
    first.close();

    const next = open(dir);
    expect(next.adopt()).toBe(2);
    expect(next.waiting).toBe(2);
    expect(next.page(0, 10).map((r) => r.wa_message_id)).toEqual(["A1", "A2"]);
    next.close();
  });
});

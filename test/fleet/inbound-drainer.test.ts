/**
 * The drainer: spooled messages -> the edge, each kept until the edge says
 * it stored it. Real spool files and the real preparation (sealed rows read
 * back and translated); the edge is scripted per WhatsApp id, through the
 * courier (the link path) or a local HTTP server standing in for the edge's
 * `/fleet/instances/{id}/received` route (the path without a link).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { WAMessage } from "@whiskeysockets/baileys";
import pino, { type Logger } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { EdgeLink } from "../../fleet/edge-link.ts";
import { type InboundCourier, edgeCourier } from "../../fleet/inbound-courier.ts";
import { InboundDrainer } from "../../fleet/inbound-drainer.ts";
import { inboundPreparer } from "../../fleet/inbound-prepare.ts";
import { InboundSpool } from "../../fleet/inbound-spool.ts";
import { sealSpooled } from "../../fleet/spooled-message.ts";
import { type InboundMessage, type LidMapping, ProtocolError } from "../../shared/protocol.ts";
import { captureLogs } from "./captured-logs.ts";
import { spoolDir } from "./inbound-harness.ts";
import { until } from "./memory-edge.ts";

const silent = pino({ level: "silent" });
const cipher = new SessionCipher("drainer test session key");
const INSTANCE = "inst_drain";
const self = { jid: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid" };
const fast = { baseMs: 5, maxMs: 20 };

const chatOf = (n: number) => `55119888800${String(n).padStart(2, "0")}@s.whatsapp.net`;
const CHAT_A = chatOf(1);
const CHAT_B = chatOf(2);

type Answer = "ok" | ProtocolError | "hang";

/**
 * An edge whose answers the test scripts per WhatsApp id (default: stored),
 * behind the courier. Records what it was sent, in order.
 */
function scriptedEdge() {
  const frames: string[] = [];
  const stored: string[] = [];
  const script = new Map<string, Answer[]>();
  const hanging = new Map<string, () => void>();
  let failAll: ProtocolError | null = null;
  const courier: InboundCourier = {
    async deliver(_instanceId: string, message: InboundMessage, mappings: LidMapping[]) {
      if (mappings.length > 0) frames.push(`lid.mappings:${mappings.map((m) => m.lid).join(",")}`);
      frames.push(`message.received:${message.wa_message_id}`);
      if (failAll) throw failAll;
      const answer = script.get(message.wa_message_id)?.shift() ?? "ok";
      if (answer === "hang") await new Promise<void>((resolve) => hanging.set(message.wa_message_id, resolve));
      if (failAll) throw failAll;
      if (answer instanceof ProtocolError) throw answer;
      const duplicate = stored.includes(message.wa_message_id);
      if (!duplicate) stored.push(message.wa_message_id);
      return { message_id: `msg_${message.wa_message_id}`, duplicate };
    },
    tickets: () => ({
      call: async () => {
        throw new ProtocolError("media_unavailable", "no bucket here");
      },
    }),
  };
  const calls = (id: string) => frames.filter((f) => f === `message.received:${id}`).length;
  return {
    courier,
    frames,
    stored,
    script,
    calls,
    /** Every call fails with this until set back to null. */
    down: (error: ProtocolError | null) => {
      failAll = error;
    },
    release: () => {
      for (const [id, go] of hanging) {
        hanging.delete(id);
        go();
      }
    },
  };
}

function text(id: string, chat = CHAT_A, fields: Partial<WAMessage["key"]> = {}): WAMessage {
  return { key: { remoteJid: chat, id, fromMe: false, ...fields }, messageTimestamp: 1_750_000_000, pushName: "Maria", message: { conversation: `texto ${id}` } };
}

function put(spool: InboundSpool, message: WAMessage, sealWith = cipher): void {
  spool.put({
    instance_id: INSTANCE,
    chat_jid: message.key.remoteJid!,
    wa_message_id: message.key.id!,
    offline: false,
    received_at: Date.now(),
    payload: sealSpooled(sealWith, INSTANCE, { message, self }),
  });
}

const spools: InboundSpool[] = [];
const drainers: InboundDrainer[] = [];
afterEach(() => {
  for (const drainer of drainers.splice(0)) drainer.stop();
  for (const spool of spools.splice(0)) spool.close();
});

function setup(courier: InboundCourier, opts: { pageSize?: number; backoff?: { baseMs: number; maxMs: number }; logger?: Logger } = {}) {
  const logger = opts.logger ?? silent;
  const spool = InboundSpool.open({ dir: spoolDir(), logger, maxRows: 1_000_000, minFreeBytes: 0 });
  const drainer = new InboundDrainer({
    spool,
    courier,
    logger,
    pageSize: opts.pageSize,
    backoff: opts.backoff ?? fast,
    prepare: inboundPreparer({ cipher, courier, logger }),
  });
  spools.push(spool);
  drainers.push(drainer);
  return { spool, drainer };
}

describe("inbound drainer", () => {
  it("keeps a message through link drops, timeouts and edge failures until the edge stores it, deletes its row only then, and never sends it again", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [
      new ProtocolError("closed", "instance link closed (1006)"),
      new ProtocolError("timeout", "message.received got no answer in 30000 ms"),
      new ProtocolError("lease_lost", "the lease was lost before this call could be sent"),
      new ProtocolError("unreachable", "the edge could not be reached: ECONNREFUSED"),
      new ProtocolError("http_502", "the edge answered 502"),
      new ProtocolError("failed", "D1_ERROR: database is locked"),
    ]);
    const { spool, drainer } = setup(edge.courier);
    put(spool, text("A1"));
    drainer.start();
    await until(() => edge.calls("A1") === 6, 3_000, "six failed attempts");
    expect(spool.size).toBe(1);
    await until(() => edge.stored.includes("A1"), 3_000, "A1 stored");
    await until(() => spool.size === 0, 1_000, "its row deleted");
    expect(edge.calls("A1")).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(edge.calls("A1")).toBe(7);
  });

  it("one chat goes in arrival order even when its first message needs retries; other chats do not wait for it", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("not_connected", "down"), new ProtocolError("not_connected", "down")]);
    const { spool, drainer } = setup(edge.courier, { backoff: { baseMs: 40, maxMs: 40 } });
    for (const message of [text("A1"), text("A2"), text("B1", CHAT_B), text("A3")]) put(spool, message);
    drainer.start();
    await until(() => spool.size === 0, 3_000, "all stored");
    expect(edge.stored).toEqual(["B1", "A1", "A2", "A3"]);
    const chatA = edge.frames.filter((f) => f.includes(":A"));
    expect(chatA).toEqual(["message.received:A1", "message.received:A1", "message.received:A1", "message.received:A2", "message.received:A3"]);
  });

  it("a big spool behind an edge that is down: never more than a page in memory, and once the edge is back every message arrives once, each chat in order", async () => {
    const edge = scriptedEdge();
    edge.down(new ProtocolError("unreachable", "the edge could not be reached"));
    const { spool, drainer } = setup(edge.courier, { pageSize: 50 });
    const sent: WAMessage[] = [];
    for (let i = 0; i < 2_000; i++) sent.push(text(`M${String(i).padStart(4, "0")}`, chatOf(i % 40)));
    for (const message of sent) put(spool, message);
    drainer.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(drainer.inMemory).toBeLessThanOrEqual(50);
    expect(edge.stored).toEqual([]);
    expect(spool.size).toBe(2_000);

    edge.down(null);
    drainer.wake();
    await until(() => spool.size === 0, 20_000, "the spool emptied");
    expect(drainer.peakInMemory).toBeLessThanOrEqual(50);
    expect(new Set(edge.stored).size).toBe(2_000);
    expect(edge.stored).toHaveLength(2_000);
    for (let chat = 0; chat < 40; chat++) {
      const inChat = sent.filter((_, i) => i % 40 === chat).map((m) => m.key.id);
      expect(edge.stored.filter((id) => inChat.includes(id))).toEqual(inChat);
    }
  });

  it("a message the edge refuses is held on disk (our bug, not the customer's), one for a deleted number is dropped; both logged, and the chat goes on", async () => {
    const { logger, logs } = captureLogs();
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("invalid_request", "message.timestamp: expected int")]);
    edge.script.set("A2", [new ProtocolError("instance_not_found", "no such instance")]);
    const { spool, drainer } = setup(edge.courier, { logger });
    for (const message of [text("A1"), text("A2"), text("A3")]) put(spool, message);
    drainer.start();
    await until(() => spool.waiting === 0, 3_000, "nothing left to deliver");
    expect(edge.stored).toEqual(["A3"]);
    expect(edge.calls("A1")).toBe(1);
    expect(edge.calls("A2")).toBe(1);
    expect(spool.size).toBe(1); // A1, held
    expect(logs()).toContain("the edge refused a received message: held in the spool for the next process");
    expect(logs()).toContain("received message for a deleted number: dropped");
    expect(logs()).toContain('"wa_message_id":"A1"');
    expect(logs()).not.toContain("texto A1");
  });

  it("the LID pairs a message teaches go right before it, on every attempt", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("closed", "dropped")]);
    const { spool, drainer } = setup(edge.courier);
    const lid = "123456789012345@lid";
    put(spool, text("A1", lid, { remoteJidAlt: CHAT_A }));
    put(spool, text("A2", lid));
    drainer.start();
    await until(() => spool.size === 0, 3_000, "all stored");
    expect(edge.frames).toEqual([
      `lid.mappings:${lid}`,
      "message.received:A1",
      `lid.mappings:${lid}`,
      "message.received:A1",
      "message.received:A2",
    ]);
  });

  it("a link granted again sends what waits for a retry at once, without sitting out the backoff", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("lease_lost", "lost")]);
    const { spool, drainer } = setup(edge.courier, { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    put(spool, text("A1"));
    drainer.start();
    await until(() => edge.calls("A1") === 1, 3_000, "first attempt");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(edge.stored).toEqual([]);
    drainer.wake();
    await until(() => edge.stored.includes("A1"), 1_000, "A1 stored after the grant");
  });

  it("a row sealed with another fleet key is held on disk, not deleted and not delivered; the rest go on", async () => {
    const { logger, logs } = captureLogs();
    const edge = scriptedEdge();
    const { spool, drainer } = setup(edge.courier, { logger });
    put(spool, text("A1"), new SessionCipher("a key from another deployment"));
    put(spool, text("A2"));
    drainer.start();
    await until(() => edge.stored.includes("A2"), 3_000, "A2 stored");
    await until(() => spool.waiting === 0, 1_000, "nothing left to deliver");
    expect(spool.size).toBe(1);
    expect(edge.calls("A1")).toBe(0);
    expect(logs()).toContain("spooled message cannot be read: held in the spool");
  });

  it("idle() waits for the spool to empty; what the edge never answers is counted, stays on disk, and is not retried after stop()", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", ["hang"]);
    const { spool, drainer } = setup(edge.courier);
    put(spool, text("A1"));
    put(spool, text("B1", CHAT_B));
    drainer.start();
    expect(await drainer.idle(300)).toBe(1);
    expect(edge.stored).toEqual(["B1"]);
    drainer.stop();
    // The call in flight then fails (the process is going away): nobody tries again, the row waits on disk.
    edge.down(new ProtocolError("closed", "instance link closed"));
    edge.release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(edge.calls("A1")).toBe(1);
    expect(spool.page(0, 10).map((r) => r.wa_message_id)).toEqual(["A1"]);
  });
});

describe("inbound courier without a link (the lease moved, or the process drains)", () => {
  type Request = { path: string; authorization: string | undefined; body: any };

  async function httpEdge(answer: (req: Request) => { status: number; body: unknown }) {
    const requests: Request[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const request = { path: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString() || "null") };
        requests.push(request);
        const { status, body } = answer(request);
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it("delivers over HTTP with the fleet token, the pairs in the body; retries a failing edge and drops for good on instance_not_found", async () => {
    let failures = 2;
    const edge = await httpEdge(({ body }) => {
      if (body.message.wa_message_id === "GONE") return { status: 404, body: { error: { code: "instance_not_found", message: "no such instance" } } };
      if (failures-- > 0) return { status: 503, body: { error: { code: "internal", message: "busy" } } };
      return { status: 200, body: { message_id: `msg_${body.message.wa_message_id}`, duplicate: false } };
    });
    try {
      // This process holds no link to the number: everything goes over HTTP.
      const courier = edgeCourier({ linkFor: () => null, edgeUrl: edge.url, token: "fleet-token" });
      const { spool, drainer } = setup(courier);
      const lid = "123456789012345@lid";
      put(spool, text("H1", lid, { remoteJidAlt: CHAT_A }));
      put(spool, text("GONE", CHAT_B));
      drainer.start();
      await until(() => spool.size === 0, 5_000, "spool empty");
      const h1 = edge.requests.filter((r) => r.body.message.wa_message_id === "H1");
      expect(h1).toHaveLength(3);
      expect(h1.every((r) => r.path === `/fleet/instances/${INSTANCE}/received` && r.authorization === "Bearer fleet-token")).toBe(true);
      expect(h1[2]!.body).toMatchObject({ message: { chat_jid: lid, chat_jid_alt: CHAT_A, body: "texto H1" }, mappings: [{ lid, pn: CHAT_A }] });
      expect(edge.requests.filter((r) => r.body.message.wa_message_id === "GONE")).toHaveLength(1);
    } finally {
      await edge.close();
    }
  });

  it("uses the link while this process holds it granted, and nothing goes over HTTP then", async () => {
    const edge = await httpEdge(() => ({ status: 500, body: {} }));
    try {
      const calls: string[] = [];
      const link: EdgeLink = {
        emit: () => {},
        call: (async (method: string, params: InboundMessage) => {
          calls.push(`${method}:${params.wa_message_id}`);
          return { message_id: "m", duplicate: false };
        }) as EdgeLink["call"],
      };
      const courier = edgeCourier({ linkFor: (id) => (id === INSTANCE ? link : null), edgeUrl: edge.url, token: "t" });
      const { spool, drainer } = setup(courier);
      put(spool, text("L1"));
      drainer.start();
      await until(() => spool.size === 0, 3_000, "delivered");
      expect(calls).toEqual(["message.received:L1"]);
      expect(edge.requests).toEqual([]);
    } finally {
      await edge.close();
    }
  });
});

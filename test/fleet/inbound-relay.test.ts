/**
 * The relay that hands received messages to the edge: it keeps each one
 * until the edge says it is stored, in arrival order per chat.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { EdgeLink } from "../../fleet/edge-link.ts";
import { type Delivery, InboundRelay } from "../../fleet/inbound-relay.ts";
import { InboundMessage, type LidMapping, ProtocolError } from "../../shared/protocol.ts";
import { until } from "./memory-edge.ts";

const silent = pino({ level: "silent" });

function message(id: string, chat = "5511988887777@s.whatsapp.net"): InboundMessage {
  return InboundMessage.parse({ wa_message_id: id, chat_jid: chat, sender_jid: chat, timestamp: 1_750_000_000, type: "text", body: "oi" });
}

type Answer = "ok" | ProtocolError | "hang";

/**
 * An edge whose answers the test scripts per message id (default: stored).
 * Records every frame the relay sent, in order.
 */
function scriptedEdge() {
  const frames: string[] = [];
  const stored: string[] = [];
  const script = new Map<string, Answer[]>();
  const hanging = new Map<string, () => void>();
  const link: EdgeLink = {
    emit: (event, data) => {
      frames.push(`${event}:${(data as { mappings: LidMapping[] }).mappings.map((m) => m.lid).join(",")}`);
    },
    call: (async (method: string, params: InboundMessage) => {
      frames.push(`${method}:${params.wa_message_id}`);
      const answer = script.get(params.wa_message_id)?.shift() ?? "ok";
      if (answer === "hang") await new Promise<void>((resolve) => hanging.set(params.wa_message_id, resolve));
      if (answer instanceof ProtocolError) throw answer;
      const duplicate = stored.includes(params.wa_message_id);
      if (!duplicate) stored.push(params.wa_message_id);
      return { message_id: `msg_${params.wa_message_id}`, duplicate };
    }) as EdgeLink["call"],
  };
  const calls = (id: string) => frames.filter((f) => f === `message.received:${id}`).length;
  /** Lets the edge answer the calls it held (all, or one message's). */
  const release = (id?: string) => {
    for (const [held, go] of hanging) {
      if (id !== undefined && held !== id) continue;
      hanging.delete(held);
      go();
    }
  };
  return { link, frames, stored, script, calls, release };
}

const ready = (msg: InboundMessage, mappings: LidMapping[] = []): Promise<Delivery> => Promise.resolve({ message: msg, mappings });
const fast = { baseMs: 5, maxMs: 20 };

describe("inbound relay", () => {
  it("keeps a message through link drops, timeouts and edge failures until the edge stores it, then never sends it again", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [
      new ProtocolError("closed", "instance link closed (1006)"),
      new ProtocolError("timeout", "message.received got no answer in 30000 ms"),
      new ProtocolError("lease_lost", "the lease was lost before this call could be sent"),
      new ProtocolError("failed", "D1_ERROR: database is locked"),
    ]);
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: fast });
    relay.enqueue("chat-a", "A1", ready(message("A1")));
    await until(() => edge.stored.includes("A1"), 3_000, "A1 stored");
    expect(edge.calls("A1")).toBe(5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(edge.calls("A1")).toBe(5);
    expect(relay.pending).toBe(0);
  });

  it("one chat goes in arrival order even when its first message needs retries; other chats do not wait for it", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("not_connected", "down"), new ProtocolError("not_connected", "down")]);
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: { baseMs: 40, maxMs: 40 } });
    relay.enqueue("chat-a", "A1", ready(message("A1")));
    relay.enqueue("chat-a", "A2", ready(message("A2")));
    relay.enqueue("chat-b", "B1", ready(message("B1", "5511977776666@s.whatsapp.net")));
    relay.enqueue("chat-a", "A3", ready(message("A3")));
    await until(() => relay.pending === 0, 3_000, "all stored");
    expect(edge.stored).toEqual(["B1", "A1", "A2", "A3"]);
    const chatA = edge.frames.filter((f) => f.includes(":A"));
    expect(chatA).toEqual(["message.received:A1", "message.received:A1", "message.received:A1", "message.received:A2", "message.received:A3"]);
  });

  it("a message still being prepared (its media downloading) holds back the later ones of its chat only", async () => {
    const edge = scriptedEdge();
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: fast });
    let finishDownload!: (delivery: Delivery) => void;
    relay.enqueue("chat-a", "A1", new Promise<Delivery>((resolve) => (finishDownload = resolve)));
    relay.enqueue("chat-a", "A2", ready(message("A2")));
    relay.enqueue("chat-b", "B1", ready(message("B1", "5511977776666@s.whatsapp.net")));
    await until(() => edge.stored.includes("B1"), 3_000, "B1 stored");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(edge.stored).toEqual(["B1"]);
    finishDownload({ message: { ...message("A1"), type: "audio" }, mappings: [] });
    await until(() => relay.pending === 0, 3_000, "all stored");
    expect(edge.stored).toEqual(["B1", "A1", "A2"]);
  });

  it("the LID pairs a message taught go right before it, on every attempt", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("closed", "dropped")]);
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: fast });
    const pair = { lid: "123456789012345@lid", pn: "5511988887777@s.whatsapp.net" };
    relay.enqueue("chat-a", "A1", ready(message("A1"), [pair]));
    relay.enqueue("chat-a", "A2", ready(message("A2")));
    await until(() => relay.pending === 0, 3_000, "all stored");
    expect(edge.frames).toEqual([
      "lid.mappings:123456789012345@lid",
      "message.received:A1",
      "lid.mappings:123456789012345@lid",
      "message.received:A1",
      "message.received:A2",
    ]);
  });

  it("a message the edge refuses as malformed is dropped (logged), and its chat goes on", async () => {
    let logs = "";
    const logger = pino({ level: "info" }, new Writable({ write: (chunk, _e, done) => ((logs += chunk.toString()), done()) }));
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("bad_params", "timestamp: expected int")]);
    const relay = new InboundRelay({ link: edge.link, logger, backoff: fast });
    relay.enqueue("chat-a", "A1", ready(message("A1")));
    relay.enqueue("chat-a", "A2", ready(message("A2")));
    await until(() => relay.pending === 0, 3_000, "queue empty");
    expect(edge.stored).toEqual(["A2"]);
    expect(edge.calls("A1")).toBe(1);
    expect(logs).toContain("the edge refused a received message: dropped");
    expect(logs).toContain('"wa_message_id":"A1"');
  });

  it("a re-granted link sends what waits for a retry at once, without sitting out the backoff", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", [new ProtocolError("lease_lost", "lost")]);
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    relay.enqueue("chat-a", "A1", ready(message("A1")));
    await until(() => edge.calls("A1") === 1, 3_000, "first attempt");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(edge.stored).toEqual([]);
    relay.regranted();
    await until(() => edge.stored.includes("A1"), 1_000, "A1 stored after the re-grant");
  });

  it("drain waits for deliveries in flight, then stops; what the edge never answered is counted, not retried", async () => {
    const edge = scriptedEdge();
    edge.script.set("A1", ["hang"]);
    edge.script.set("B1", ["hang"]);
    const relay = new InboundRelay({ link: edge.link, logger: silent, backoff: fast });
    relay.enqueue("chat-a", "A1", ready(message("A1")));
    relay.enqueue("chat-b", "B1", ready(message("B1", "5511977776666@s.whatsapp.net")));
    await until(() => edge.frames.length === 2, 1_000, "both in flight");
    // The edge answers A1 while the drain waits; B1 never.
    setTimeout(() => edge.release("A1"), 30);
    const left = await relay.drain(300);
    expect(edge.stored).toEqual(["A1"]);
    expect(left).toBe(1);
    const callsAfterDrain = edge.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(edge.frames.length).toBe(callsAfterDrain);
  });

  it("holds a bounded number of messages, and says loudly when they back up", async () => {
    let logs = "";
    const logger = pino({ level: "warn" }, new Writable({ write: (chunk, _e, done) => ((logs += chunk.toString()), done()) }));
    const edge = scriptedEdge();
    for (const id of ["A1", "A2", "A3", "A4"]) edge.script.set(id, ["hang"]);
    const relay = new InboundRelay({ link: edge.link, logger, maxPending: 3, warnPending: 2, backoff: fast });
    for (const id of ["A1", "A2", "A3", "A4"]) relay.enqueue(`chat-${id}`, id, ready(message(id, `55119888800${id.slice(1)}@s.whatsapp.net`)));
    expect(relay.pending).toBe(3);
    expect(logs).toContain("received messages are backing up");
    expect(logs).toContain("too many received messages held: dropped");
    expect(logs).toContain('"wa_message_id":"A4"');
    await until(() => edge.frames.length === 3, 1_000, "three in flight");
    edge.release();
    await until(() => relay.pending === 0, 1_000, "drained");
    expect(edge.stored.sort()).toEqual(["A1", "A2", "A3"]);
  });
});

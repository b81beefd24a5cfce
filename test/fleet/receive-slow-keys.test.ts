/**
 * A number's Signal keys live at the edge (fleet/session-store.ts), one
 * round trip away, and that round trip grows when the edge is busy. Against
 * a real WhatsApp-protocol peer: new customers write to one number at once,
 * each first message reading and writing that customer's LID mapping, while
 * the edge takes 150 ms to answer each key read and write. Each message must
 * wait for its own round trips only: Baileys' key cache held one lock per
 * socket across them (makeCacheableSignalKeyStore), so the messages went to
 * the spool one after another, two or three round trips apart, and at six
 * messages a second per number the queue grew to seconds (bench:inbound
 * --timeline; bench/profiles/inbound-2026-12.md, round 7).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import type { LeaseGranted } from "../../shared/protocol.ts";
import { type TestPeer, startPeer } from "../peer/peer.ts";
import { captureLogs } from "./captured-logs.ts";
import { type TestInbound, testInbound } from "./inbound-harness.ts";
import { type MemoryEdge, memoryEdge, pairedSession, until } from "./memory-edge.ts";
import { peerManager } from "./peer-manager.ts";

const PHONE = "5511999990031";
const instanceId = "inst_slow_keys";
const cipher = new SessionCipher("slow keys session key");
const grant: LeaseGranted = { instance_id: instanceId, ttl_ms: 15_000, config: { name: "slow keys", proxy_url: null } };
const ROUND_TRIP_MS = 150;
const CUSTOMERS = 8;
const { logger } = captureLogs("warn");

let peer: TestPeer;
let edge: MemoryEdge;
let inbound: TestInbound;
let manager: ConnectionManager;
/** Set once connected: from then on every session.* call takes ROUND_TRIP_MS to be answered. */
let slow = false;
let keyCallsOut = 0;
let mostKeyCallsOut = 0;

beforeAll(async () => {
  peer = await startPeer({ phone: PHONE });
  edge = memoryEdge(pairedSession(cipher, instanceId, { id: `${PHONE}:1@s.whatsapp.net` }));
  const call = edge.link.call.bind(edge.link);
  edge.link.call = (async (method: string, params: unknown) => {
    if (!slow || !method.startsWith("session.")) return call(method as never, params as never);
    keyCallsOut++;
    mostKeyCallsOut = Math.max(mostKeyCallsOut, keyCallsOut);
    try {
      await new Promise((resolve) => setTimeout(resolve, ROUND_TRIP_MS));
      return await call(method as never, params as never);
    } finally {
      keyCallsOut--;
    }
  }) as typeof edge.link.call;
  inbound = testInbound({ link: edge.link, cipher, logger });
  manager = peerManager({ instanceId, cipher, logger, edge, waUrl: peer.url, spool: inbound.spool });
  manager.leaseGranted(grant);
  await until(() => manager.status.state === "connected", 10_000, "connected");
});

afterAll(async () => {
  await manager?.stop();
  inbound?.close();
  await peer?.close();
});

describe("a number's keys at a slow edge (150 ms a round trip), against a real WhatsApp peer", () => {
  it("new customers writing at once: each first message waits for its own key round trips, not for every other customer's", async () => {
    slow = true;
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: CUSTOMERS }, (_, k) => {
        const customer = `55119777${String(k + 1).padStart(5, "0")}@s.whatsapp.net`;
        return peer.inject({ chatJid: customer, senderJid: customer, text: `primeira mensagem ${k}`, pushName: `Cliente ${k}` });
      }),
    );
    await until(() => ids.every((id) => edge.stored.has(id)), 20_000, "every first message stored");
    const elapsed = Date.now() - started;
    slow = false;
    // Every message was acknowledged to WhatsApp once spooled, and stored once.
    for (const id of ids) await until(() => peer.acknowledged(id), 5_000, `the receipt of ${id}`);
    expect(new Set(ids.map((id) => edge.stored.get(id)!.body))).toEqual(new Set(ids.map((_, k) => `primeira mensagem ${k}`)));
    // The early lookups add no round trip: one read and one write of each customer's mapping, as before.
    const lidCalls = (method: string) => edge.requests.filter((r) => r.method === method && JSON.stringify(r.params).includes("lid-mapping:55119777")).length;
    // (The mapping writes are not awaited: they follow, one at a time, in order.)
    await until(() => lidCalls("session.set") >= CUSTOMERS, 5_000, "every customer's mapping written");
    expect(lidCalls("session.get")).toBe(CUSTOMERS);
    expect(lidCalls("session.set")).toBe(CUSTOMERS);
    // The customers' key reads went to the edge together, not one at a time...
    expect(mostKeyCallsOut).toBeGreaterThan(1);
    // ...so the eight were stored well inside the time of their round trips one after another (they took
    // two each, 16 x 150 ms = 2.4 s at least, with the lock held across them).
    expect(elapsed).toBeLessThan(1.5 * CUSTOMERS * ROUND_TRIP_MS);
  });
});

/**
 * A project's events over four hubs (POMBO_EVENT_SHARDS=4), end to end:
 * customers write to four numbers on their WhatsApp peers, and the project
 * hears through one SSE stream and a signed webhook. A client that dropped
 * resumes from its last id and gets exactly what it missed, each
 * conversation in order; the webhook gets each event once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Instance } from "../harness/client.ts";
import { shardOf } from "../../edge/services/event-shards.ts";
import { useStack } from "../harness/use-stack.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";
import { type SseListener, listen } from "./sse-client.ts";

const NUMBERS = 4;

describe("e2e: events over several hubs", () => {
  const stack = useStack("event-shards", NUMBERS, { edgeVars: { POMBO_EVENT_SHARDS: "4" } });
  const receiver = new WebhookReceiver();
  let instances: Instance[];
  let sse: SseListener;

  beforeAll(async () => {
    await receiver.subscribe(stack.api, ["message.received"]);
    sse = await listen(stack.edge.url, stack.api.token);
    stack.fleet();
    instances = await stack.connectNumbers(NUMBERS, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    sse?.close();
    await receiver.close();
  });

  /** Customer i writes `count` numbered texts to number i, one after another. */
  async function write(tag: string, count: number): Promise<string[]> {
    const texts: string[] = [];
    await Promise.all(
      instances.map(async (_, i) => {
        const phone = `55119777${String(i).padStart(5, "0")}`;
        for (let n = 0; n < count; n++) {
          const text = `${tag} ${i} ${n}`;
          texts.push(text);
          await stack.peers.peers[i]!.inject({ chatJid: `${phone}@s.whatsapp.net`, senderJid: `${phone}@s.whatsapp.net`, text, pushName: "Maria" });
        }
      }),
    );
    return texts;
  }

  const received = (l: SseListener) => l.events.filter((e) => e.event === "message.received");

  it("resumes one stream over four hubs from the last id: exactly the missed events, each conversation in order, and each webhook once", async () => {
    const first = await write("before", 2);
    for (const text of first) await sse.waitFor((e) => e.data?.payload?.body === text, 30_000);
    const last = sse.lastId()!;
    expect(last).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    sse.close();

    const missed = await write("missed", 3);
    for (const text of missed) await receiver.waitForEvent((e) => e.payload?.body === text);
    sse = await listen(stack.edge.url, stack.api.token, { lastEventId: last });
    for (const text of missed) await sse.waitFor((e) => e.data?.payload?.body === text, 30_000);
    const live = await write("live", 1);
    for (const text of live) await sse.waitFor((e) => e.data?.payload?.body === text, 30_000);

    const bodies = received(sse).map((e) => e.data.payload.body as string);
    expect([...bodies].sort()).toEqual([...missed, ...live].sort());
    for (let i = 0; i < NUMBERS; i++) {
      expect(bodies.filter((b) => b.split(" ")[1] === String(i))).toEqual([`missed ${i} 0`, `missed ${i} 1`, `missed ${i} 2`, `live ${i} 0`]);
    }
    // Each number's events moved its own hub's position (and no hub without a number; hub 0 also takes project-wide events).
    const hubs = new Set(instances.map((i) => shardOf(i.id, NUMBERS)));
    const now = sse.lastId()!.split(".");
    const moved = last.split(".").flatMap((seq, k) => (Number(now[k]) > Number(seq) ? [k] : []));
    for (const hub of hubs) expect(moved).toContain(hub);
    for (const hub of moved) expect(hubs.has(hub) || hub === 0).toBe(true);

    for (const text of live) await receiver.waitForEvent((e) => e.payload?.body === text);
    const hooks = receiver.events("message.received").map((e) => e.payload.body as string);
    expect(hooks.filter((b) => [...first, ...missed, ...live].includes(b)).sort()).toEqual([...first, ...missed, ...live].sort());
  });
});

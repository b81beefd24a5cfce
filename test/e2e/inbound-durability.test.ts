/**
 * Nothing a customer sends is lost or doubled, whatever happens between
 * WhatsApp and the edge: customers write through real WhatsApp-protocol
 * peers, a signed webhook receiver on loopback counts what arrives, and the
 * processes are frozen and killed for real (SIGSTOP, SIGKILL).
 *
 * The peers keep a message until the number acknowledges it and deliver it
 * again on its next connection, as WhatsApp does (see test/peer/peer.ts).
 * A customer the number has heard from before is "warm": the fleet needs
 * nothing from the edge to take their next message, so it takes (and
 * acknowledges) it even while the edge is frozen. A new customer's first
 * message needs the edge (Baileys looks their LID up in the session store),
 * so it waits, unacknowledged, and comes again after a reconnect.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Peer } from "../harness/peers.ts";
import type { Fleet } from "../harness/fleet.ts";
import { useStack } from "../harness/use-stack.ts";
import { sleep, waitFor } from "../harness/waits.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";

describe("e2e: received messages survive edge pauses and fleet crashes", () => {
  const stack = useStack("inbound-durability", 3);
  let first: Fleet;
  let ids: string[];
  const receiver = new WebhookReceiver();
  let seq = 0;

  beforeAll(async () => {
    await receiver.subscribe(stack.api, ["message.received"]);
    const started = await stack.fleetWithNumbers(3, { timeoutMs: 60_000 });
    first = started.fleet;
    ids = started.instances.map((i) => i.id);
  });

  afterAll(async () => {
    await receiver.close();
  });

  /** A message as the webhook names it: the number that got it and its WhatsApp id (each peer counts its own ids). */
  type Sent = { instanceId: string; waId: string };
  const newCustomer = () => `55119555${String(++seq).padStart(5, "0")}@s.whatsapp.net`;

  /** `customer` writes `text` to the number of peer `i`. */
  const write = async (i: number, customer: string, text: string): Promise<Sent> => {
    const peer: Peer = stack.peers.peers[i]!;
    const waId = await peer.inject({ chatJid: customer, senderJid: customer, text, pushName: "Cliente" });
    return { instanceId: ids[i]!, waId };
  };

  const eventsOf = ({ instanceId, waId }: Sent) =>
    receiver.events("message.received").filter((e) => e.instance_id === instanceId && e.payload?.wa_message_id === waId);

  /** Waits until each message reached the webhook, then checks that each did so exactly once. */
  async function arrivedOnce(sent: Sent[], timeoutMs: number): Promise<void> {
    const missing = () => sent.filter((m) => eventsOf(m).length === 0);
    await waitFor(() => missing().length === 0, timeoutMs, {
      what: `${sent.length} messages at the webhook (missing: ${JSON.stringify(missing().map((m) => m.waId))})`,
    });
    await sleep(2_000); // a late repeat would show up by now
    for (const m of sent) expect(eventsOf(m), m.waId).toHaveLength(1);
  }

  /** Customers who already wrote to number `i` (and whose message arrived). */
  async function warmCustomers(i: number, n: number): Promise<string[]> {
    const customers = Array.from({ length: n }, newCustomer);
    await arrivedOnce(await Promise.all(customers.map((c) => write(i, c, "olá"))), 20_000);
    return customers;
  }

  /** What the fleet's log says happened to one number. */
  const lifecycle = (fleet: Fleet, instanceId: string) =>
    readFileSync(fleet.logPath, "utf8")
      .split("\n")
      .filter((line) => line.includes(`"instance_id":"${instanceId}"`))
      .map((line) => (JSON.parse(line) as { msg: string }).msg)
      .filter((msg) => msg === "instance assigned" || msg === "instance released");

  it("the edge frozen longer than the lease TTL while customers write: every message arrives once, and the directory never stopped or restarted the numbers", async () => {
    const numbers = [1, 2];
    const warm = new Map(await Promise.all(numbers.map(async (i) => [i, await warmCustomers(i, 2)] as const)));
    const sent: Sent[] = [];
    stack.edge.pause();
    try {
      // At 0 s, 8 s and 14 s: before the fleet fences itself (12 s) and while its WhatsApp sockets are down; frozen 22 s in all.
      for (const wait of [0, 8_000, 6_000]) {
        await sleep(wait);
        for (const i of numbers) {
          for (const customer of warm.get(i)!) sent.push(await write(i, customer, `pausa ${sent.length}`));
          sent.push(await write(i, newCustomer(), `primeira mensagem ${sent.length}`));
        }
      }
      await sleep(8_000);
    } finally {
      stack.edge.resume();
    }
    await arrivedOnce(sent, 40_000);
    for (const id of ids.slice(1)) expect(lifecycle(first, id), `fleet log for ${id}`).toEqual(["instance assigned"]);
  });

  it("a fleet SIGKILLed right after customers' messages reached it, restarted on the same data dir: every message reaches the webhook exactly once", async () => {
    const peer = stack.peers.peers[0]!;
    const customers = await warmCustomers(0, 3);
    const sent: Sent[] = [];
    // The edge is frozen, so nothing the fleet holds can reach it before the kill.
    stack.edge.pause();
    try {
      for (let i = 0; i < 12; i++) sent.push(await write(0, customers[i % 3]!, `antes do kill ${i}`));
      // WhatsApp's view: the number took every one of them (a receipt each), so it will never send them again.
      const receipted = (m: Sent) => peer.clientNodes().some((n) => n.tag === "receipt" && n.attrs.id === m.waId);
      await waitFor(() => sent.every(receipted), 10_000, { what: "a receipt for every message" });
      await first.kill();
    } finally {
      stack.edge.resume();
    }
    const second = stack.fleet(); // same POMBO_FLEET_DATA_DIR: it adopts the dead process's spool
    await arrivedOnce(sent, 40_000);
    expect(readFileSync(second.logPath, "utf8")).toContain("adopted the spool of a process that is gone");
  });
});

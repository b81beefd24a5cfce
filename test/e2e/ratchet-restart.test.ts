/**
 * A send's Signal session writes ride on its answer to the edge (the whole
 * path: Baileys, the fleet's session store, the number's object): a fleet
 * process that replaces the one that sent, loading its keys from the edge
 * only, sends on and the peer decrypts every message.
 *
 * What this cannot show against this peer: that the new process goes on in
 * the same Signal session. Its first send looks the chat's session up under
 * the contact's LID address, finds none, and opens a new one (the peer's LIDs
 * are its phone numbers; main does the same), which the peer takes: a lost
 * ratchet step would be hidden. The store's rules are unit tests
 * (test/fleet/session-store.test.ts) and the object's side an edge test
 * (test/edge/lease.test.ts).
 *
 * The same replacement closes Signal sessions in the new fleet process and
 * in the peer, which libsignal 6.0.0 printed whole, private keys included:
 * the second test looks for those very keys in everything printed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { format } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "../harness/processes.ts";
import { renderingsOf, witnessSessionKeys } from "../harness/signal-key-witness.ts";
import type { Fleet, FleetOptions } from "../harness/fleet.ts";
import type { Stack } from "../harness/stack.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Message = { id: string; status: string; wa_message_id: string };

/** Sends `n` texts from the stack's first number to `phone` (its first peer), one after the other, and waits for the peer to decrypt each. */
async function sendTexts(stack: Stack, instanceId: string, phone: string, label: string, n: number): Promise<void> {
  const peer = stack.peers.peers[0]!;
  for (let i = 0; i < n; i++) {
    const body = `${label} ${i}`;
    const accepted = await stack.api.call<{ id: string }>("POST", "/messages/text", { to: `${phone}@s.whatsapp.net`, body, instance_id: instanceId }, 202);
    const sent = await waitFor(
      async () => {
        const m = await stack.api.call<Message>("GET", `/messages/${accepted.id}`);
        return m.status === "sent" ? m : null;
      },
      15_000,
      { what: `"${body}" sent` },
    );
    const got = await waitFor(() => peer.accepted().find((m) => m.id === sent.wa_message_id) ?? null, 5_000, {
      intervalMs: 20,
      what: `"${body}" decrypted at the peer`,
    });
    expect(got.message.conversation ?? got.message.extendedTextMessage?.text).toBe(body);
  }
}

/**
 * A number sends texts, its fleet process is stopped and another takes it
 * (keys from the edge only) and sends more; `fleet` adds to both processes' options.
 */
async function replaceFleetMidConversation(stack: Stack, fleet: Partial<FleetOptions> = {}): Promise<Fleet[]> {
  const { fleet: first, instances } = await stack.fleetWithNumbers(1, { timeoutMs: 30_000, fleet });
  const id = instances[0]!.id;
  await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  const phone = "5511977700001";
  stack.peers.directory.register(phone);
  await sendTexts(stack, id, phone, "before", 3);
  // Graceful stop: nothing of the session is left to write when the process goes.
  expect(await first.stop(20_000)).toBe(0);
  const second = stack.fleet(fleet);
  await stack.waitConnected([id], 30_000, second.fleetId);
  await sendTexts(stack, id, phone, "after", 3);
  return [first, second];
}

describe("e2e: a send's session step survives the fleet process", () => {
  const stack = useStack("ratchet", 1);
  it("a number sends texts, its fleet process is replaced (keys from the edge only) and sends more: the peer decrypts every one (a new session on the LID address hides a lost step here)", async () => {
    await replaceFleetMidConversation(stack);
  }, 120_000);
});

describe("e2e: Signal session keys stay out of the logs", () => {
  const stack = useStack("ratchet-keys", 1);
  it("when a fleet process is replaced and Signal sessions are closed, the fleet's log says 'Closing session' but neither it nor anything else the run printed holds a byte string of those sessions' private keys", async () => {
    // The keys of every session opened or closed: in the fleet processes (a preload writes them to a
    // file) and in this one, where the peer's libsignal runs (the same library, the same lines).
    const keyFile = path.join(stack.logDir, "signal-keys.txt");
    const fleetOpts = { nodeArgs: ["--import", path.join(ROOT, "test/harness/signal-key-witness.ts")], env: { POMBO_TEST_SIGNAL_KEYS: keyFile } };
    const peerKeys: Buffer[] = [];
    const printed: string[] = [];
    const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
    const consoleBefore = methods.map((m) => console[m]);
    for (const m of methods) {
      const original = console[m];
      console[m] = (...args: unknown[]) => {
        printed.push(format(...args));
        original(...args);
      };
    }
    const unwitness = witnessSessionKeys((keys) => peerKeys.push(...keys));
    let fleets: Fleet[];
    try {
      fleets = await replaceFleetMidConversation(stack, fleetOpts);
    } finally {
      unwitness();
      methods.forEach((m, i) => (console[m] = consoleBefore[i]!));
    }

    const fleetKeys = readFileSync(keyFile, "utf8").trim().split("\n").map((hex) => Buffer.from(hex, "hex"));
    const fleetLog = fleets.map((f) => readFileSync(f.logPath, "utf8")).join("");
    // Each side closed a session (else this would prove nothing), and the fleet still says so.
    expect(fleetKeys.length).toBeGreaterThan(0);
    expect(peerKeys.length).toBeGreaterThan(0);
    expect(fleetLog).toContain("Closing session");
    const keys = [...fleetKeys, ...peerKeys].flatMap(renderingsOf);
    expect(keys.filter((k) => fleetLog.includes(k)), "keys in the fleet's log").toEqual([]);
    const output = printed.join("\n");
    expect(keys.filter((k) => output.includes(k)), "keys in this process's output (the peer's libsignal)").toEqual([]);
  }, 120_000);
});

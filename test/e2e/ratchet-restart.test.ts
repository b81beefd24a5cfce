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
 */
import { describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Message = { id: string; status: string; wa_message_id: string };

describe("e2e: a send's session step survives the fleet process", () => {
  const stack = useStack("ratchet", 1);
  it("a number sends texts, its fleet process is replaced (keys from the edge only) and sends more: the peer decrypts every one (a new session on the LID address hides a lost step here)", async () => {
    const { fleet: first, instances } = await stack.fleetWithNumbers(1, { timeoutMs: 30_000 });
    const id = instances[0]!.id;
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
    const phone = "5511977700001";
    stack.peers.directory.register(phone);
    const peer = stack.peers.peers[0]!;

    /** Sends `n` texts, one after the other, and waits for the peer to decrypt each. */
    const sendTexts = async (label: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const body = `${label} ${i}`;
        const accepted = await stack.api.call<{ id: string }>("POST", "/messages/text", { to: `${phone}@s.whatsapp.net`, body, instance_id: id }, 202);
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
    };

    await sendTexts("before", 3);
    // Graceful stop: nothing of the session is left to write when the process goes.
    expect(await first.stop(20_000)).toBe(0);
    const second = stack.fleet();
    await stack.waitConnected([id], 30_000, second.fleetId);
    await sendTexts("after", 3);
  }, 120_000);
});

/**
 * Status posts against the WhatsApp-protocol peer: the number posts to
 * `status@broadcast` as WhatsApp's apps do (a sender-key message, the key
 * handed to each device of the audience), and the peer, patched to take
 * such sends (see test/peer/status-posts.ts), opens the post with the key
 * its audience was given: what the audience would read.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Peer } from "../harness/peers.ts";
import { summarize } from "../peer/decode.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Accepted = { id: string; status: string; instance_id: string; chat_jid: string; reference: string | null; audience_size: number };
type Message = { id: string; status: string; wa_message_id: string; chat_jid: string; reference: string | null };
type Page<T> = { data: T[] };

describe("e2e: status posts", () => {
  const stack = useStack("status", 1);
  let peer: Peer;
  let instanceId: string;
  let seq = 0;
  const customer = () => `55119555${String(++seq).padStart(5, "0")}@s.whatsapp.net`;

  beforeAll(async () => {
    peer = stack.peers.peers[0]!;
    const started = await stack.fleetWithNumbers(1, { timeoutMs: 30_000 });
    instanceId = started.instances[0]!.id;
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  });

  /** A customer writes to the number, so it is one of the number's contacts. */
  async function write(jid: string): Promise<void> {
    const waId = await peer.inject({ chatJid: jid, senderJid: jid, text: "Oi", pushName: "Cliente" });
    await waitFor(
      async () => (await stack.api.call<Page<{ wa_message_id: string }>>("GET", `/conversations/${jid}/messages`).catch(() => null))?.data.some((m) => m.wa_message_id === waId),
      15_000,
      { what: `message ${waId} stored` },
    );
  }

  const sent = (id: string) =>
    waitFor(
      async () => {
        const m = await stack.api.call<Message>("GET", `/messages/${id}`);
        return m.status === "sent" ? m : null;
      },
      15_000,
      { what: `status ${id} sent` },
    );

  it("a text status reaches the number's contacts as WhatsApp's sender-key post, with its colour and font; a named audience gets the next one alone", async () => {
    const maria = customer();
    const joao = customer();
    await write(maria);
    await write(joao);

    const first = await stack.api.call<Accepted>(
      "POST",
      "/status/text",
      { instance_id: instanceId, body: "Aberto no domingo", background_color: "#FF25D366", font: "calistoga_regular", reference: "promo-1" },
      202,
    );
    expect(first).toMatchObject({ chat_jid: "status@broadcast", reference: "promo-1", audience_size: 2 });
    const message = await sent(first.id);
    const post = await peer.waitForAccepted((m) => m.id === message.wa_message_id, 10_000);
    expect(post.to).toBe("status@broadcast");
    expect(post.message.extendedTextMessage).toMatchObject({ text: "Aberto no domingo", backgroundArgb: 0xff25d366, font: 8 });
    // The key went to each person's device: the audience Pombo chose, and no one else.
    expect(peer.statusKeyRecipients(post.id).map((jid) => jid.replace(/:\d+@/, "@")).sort()).toEqual([maria, joao].sort());

    // Named audience: the key (Baileys hands it out on every status) goes to that person alone.
    const second = await stack.api.call<Accepted>("POST", "/status/text", { instance_id: instanceId, body: "Fechado hoje", audience: [maria] }, 202);
    expect(second.audience_size).toBe(1);
    const secondSent = await sent(second.id);
    const again = await peer.waitForAccepted((m) => m.id === secondSent.wa_message_id, 10_000);
    expect(again.message.extendedTextMessage?.text).toBe("Fechado hoje");
    expect(peer.statusKeyRecipients(again.id).map((jid) => jid.replace(/:\d+@/, "@"))).toEqual([maria]);

    // Deleted: its audience gets WhatsApp's revoke of that post.
    await stack.api.call("DELETE", `/messages/${second.id}`, undefined, 200);
    const revoke = await peer.waitForAccepted((m) => m.message.protocolMessage?.key?.id === again.id, 10_000);
    expect(revoke.to).toBe("status@broadcast");
    expect(summarize(revoke.message)).toEqual({ type: "revoke", target: { id: again.id, from_me: true, remote_jid: "status@broadcast" } });
  });
});

/**
 * Calls against a real WhatsApp-protocol peer: the peer rings the number
 * with a `<call><offer>` as WhatsApp does (`offerCall`, patched into the
 * peer), records the `<call><reject>` the number's socket sends back
 * (`clientNodes()`), and accepts the answer text like any send. The call
 * reaches a signed webhook on loopback as `call.received`, with the outcome.
 * (A LID caller and a lost edge link are tested around the socket:
 * test/fleet/calls.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Peer } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { sleep, waitFor } from "../harness/waits.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";

describe("e2e: calls", () => {
  const stack = useStack("calls", 1);
  const receiver = new WebhookReceiver();
  let peer: Peer;
  let instanceId: string;
  let seq = 0;
  const caller = () => `55119655${String(++seq).padStart(5, "0")}@s.whatsapp.net`;
  const callId = () => `CALL${Date.now().toString(16).toUpperCase()}${seq}`;

  beforeAll(async () => {
    peer = stack.peers.peers[0]!;
    await receiver.subscribe(stack.api, ["call.*"]);
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false } });
    const started = await stack.fleetWithNumbers(1, { timeoutMs: 30_000 });
    instanceId = started.instances[0]!.id;
  });

  afterAll(async () => {
    await receiver.close();
  });

  const rejectOf = (id: string) =>
    peer.clientNodes().find((n) => n.tag === "call" && n.children.some((c) => c.tag === "reject" && c.attrs["call-id"] === id));

  it("with calls.reject and a message, a call is declined on the wire at once, the caller gets the text, and call.received says both", async () => {
    const text = "Não atendemos ligações por aqui. Escreva sua dúvida!";
    await stack.api.call("PATCH", "/settings", { calls: { reject: true, message: text } });
    const from = caller();
    const id = callId();
    expect(await peer.offerCall({ from, callId: id })).toBe(1);

    const reject = await waitFor(() => rejectOf(id), 10_000, { what: "the number's reject at the peer" });
    expect(reject.attrs.to).toBe(from);
    expect(reject.children[0]!.attrs["call-creator"]).toBe(from);

    const answer = await peer.waitForAccepted((m) => m.to === from, 15_000);
    expect(answer.message.conversation ?? answer.message.extendedTextMessage?.text).toBe(text);

    const event = await receiver.waitForEvent((e) => e.type === "call.received" && e.payload?.call_id === id);
    expect(event).toMatchObject({ instance_id: instanceId, payload: { from, video: false, group: false, rejected: true, offline: false } });
    // A message of its own, with its statuses: sent once WhatsApp took it.
    const message = await waitFor(
      async () => {
        const m = await stack.api.call<{ status: string; reference: string; chat_jid: string; wa_message_id: string }>("GET", `/messages/${event.payload.message_id}`);
        return ["sent", "delivered", "read"].includes(m.status) ? m : null;
      },
      10_000,
      { what: "the answer text sent" },
    );
    expect(message).toMatchObject({ reference: `call:${id}`, chat_jid: from, wa_message_id: answer.id });
  });

  it("with calls.reject off, a video call is only reported: nothing is sent back to WhatsApp", async () => {
    await stack.api.call("PATCH", "/settings", { calls: { reject: false } });
    const from = caller();
    const id = callId();
    expect(await peer.offerCall({ from, callId: id, video: true })).toBe(1);
    const event = await receiver.waitForEvent((e) => e.type === "call.received" && e.payload?.call_id === id);
    expect(event.payload).toMatchObject({ from, video: true, rejected: false, message_id: null });
    await sleep(500);
    expect(rejectOf(id)).toBeUndefined();
    expect(peer.accepted().filter((m) => m.to === from)).toEqual([]);
  });

  it("every event this suite's webhook received matches its payload as the API document describes it", () => {
    expect(receiver.events("call.received")).toHaveLength(2);
    expect(receiver.undocumented()).toEqual([]);
  });
});

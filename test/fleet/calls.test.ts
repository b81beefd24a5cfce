/**
 * Calls on a number's socket (fleet/calls.ts), around the socket: a lost
 * edge link and a LID caller with the phone behind it, which the loopback
 * peer does not produce. The peer's own call offer, rejected with the
 * answer text arriving, is end to end in test/e2e/calls.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { openManager } from "./fake-manager.ts";
import { until } from "./memory-edge.ts";

const cipher = new SessionCipher("calls unit session key");
const instanceId = "inst_calls_unit";
const CALLER_LID = "123456789012345@lid";
const CALLER_PN = "5511955557777@s.whatsapp.net";

const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

async function connected() {
  const open = await openManager({ instanceId, cipher, me: { id: "5511999990003:3@s.whatsapp.net", name: "Loja" } });
  managers.push(open.manager);
  return open;
}

const offer = (id: string, extra: Record<string, unknown> = {}) => ({
  chatId: CALLER_LID,
  from: CALLER_LID,
  callerPn: CALLER_PN,
  id,
  date: new Date(1_790_000_000_000),
  offline: false,
  status: "offer" as const,
  isVideo: true,
  isGroup: false,
  ...extra,
});

describe("calls (unit, around the socket: the peer has no LID callers and no lost links)", () => {
  it("an offer reaches the edge as call.received with the caller's LID and phone; the call's other statuses do not", async () => {
    const { sock, edge } = await connected();
    sock.ev.emit("call", [offer("CALL1")]);
    sock.ev.emit("call", [{ ...offer("CALL1"), status: "terminate" }]);
    await until(() => edge.calls.length >= 1, 2_000, "a call report");
    await new Promise((r) => setTimeout(r, 50));
    expect(edge.calls).toEqual([
      { call_id: "CALL1", from: CALLER_LID, from_alt: CALLER_PN, video: true, group: false, group_jid: null, timestamp: 1_790_000_000, offline: false },
    ]);
  });

  it("a report the edge did not answer (link down) is made again once the link is back", async () => {
    const { sock, edge } = await connected();
    edge.cut();
    sock.ev.emit("call", [offer("CALL2")]);
    await new Promise((r) => setTimeout(r, 700));
    expect(edge.calls).toEqual([]);
    edge.restore();
    await until(() => edge.calls.length >= 1, 5_000, "the call reported after the link came back");
    expect(edge.calls.map((c) => c.call_id)).toEqual(["CALL2"]);
  });

  it("call.reject from the edge declines the call on the socket (Baileys rejectCall with the caller as WhatsApp named them)", async () => {
    const { sock, edge } = await connected();
    expect(await edge.edge.call("call.reject", { call_id: "CALL3", from: CALLER_LID })).toEqual({});
    expect(sock.rejectedCalls).toEqual([{ callId: "CALL3", from: CALLER_LID }]);
  });
});

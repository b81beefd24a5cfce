/**
 * `POST /numbers/check` against a real WhatsApp-protocol peer: the number's
 * Baileys socket asks the peer's usync phone lookup (patched into crabline,
 * see test/peer/peer.ts), whose directory records every number asked, so a
 * cache hit shows as no new lookup at the peer.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Check = { input: string; phone: string; on_whatsapp: boolean; jid: string | null };

describe("e2e: number check", () => {
  const stack = useStack("numcheck", 1);
  let instanceId: string;

  beforeAll(async () => {
    stack.fleet();
    instanceId = (await stack.connectNumbers(1, { timeoutMs: 30_000 }))[0]!.id;
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  });

  it("reports a registered number, an absent one, and a Brazilian number under its 8-digit account; asked once, then answered from the cache", async () => {
    const directory = stack.peers.directory;
    directory.register("14155552671");
    directory.register("551188887777");
    const phones = ["+1 415 555 2671", "+55 11 91234-0000", "+55 11 98888-7777"];
    const before = directory.lookups.length;
    const { data } = await stack.api.call<{ data: Check[] }>("POST", "/numbers/check", { phones }, 200);
    expect(data).toEqual([
      { input: "+1 415 555 2671", phone: "+14155552671", on_whatsapp: true, jid: "14155552671@s.whatsapp.net" },
      { input: "+55 11 91234-0000", phone: "+5511912340000", on_whatsapp: false, jid: null },
      { input: "+55 11 98888-7777", phone: "+551188887777", on_whatsapp: true, jid: "551188887777@s.whatsapp.net" },
    ]);
    // WhatsApp was asked each number (both Brazilian forms) once.
    expect(directory.lookups.slice(before).sort()).toEqual(["+14155552671", "+551112340000", "+551188887777", "+5511912340000", "+5511988887777"]);

    const asked = directory.lookups.length;
    const again = await stack.api.call<{ data: Check[] }>("POST", "/numbers/check", { phones: [phones[2], phones[1]], instance_id: instanceId }, 200);
    expect(again.data.map((r) => r.jid)).toEqual(["551188887777@s.whatsapp.net", null]);
    // A send to the checked number goes to its account, with no lookup either.
    const sent = await stack.api.call<{ id: string; chat_jid: string }>("POST", "/messages/text", { to: "+5511988887777", body: "oi" }, 202);
    expect(sent.chat_jid).toBe("551188887777@s.whatsapp.net");
    const message = await waitFor(async () => {
      const m = await stack.api.call<{ status: string; wa_message_id: string }>("GET", `/messages/${sent.id}`);
      return m.status === "sent" ? m : null;
    }, 15_000);
    const arrived = await waitFor(() => stack.peers.peers[0]!.accepted().find((m) => m.id === message.wa_message_id) ?? null, 5_000);
    expect(arrived.to).toBe("551188887777@s.whatsapp.net");
    expect(directory.lookups.length).toBe(asked);
  });
});

/**
 * The CRM's privacy and stamping against a real WhatsApp-protocol peer: an
 * opted-out customer gets nothing (the peer, which is the number's WhatsApp,
 * receives no message for them), a customer who writes "Sair" opts
 * themself out, and a send's tags land on its recipient's contact.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type Peer } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Conversation = { chat_jid: string; contact: { id: string } };
type Entry = { kind: string; type: string; actor: string; direction?: string; payload: Record<string, any> };

describe("e2e: CRM privacy and stamping", () => {
  const stack = useStack("crm", 1);
  let peer: Peer;
  let seq = 0;

  beforeAll(async () => {
    peer = stack.peers.peers[0]!;
    stack.fleet();
    await stack.connectNumbers(1, { timeoutMs: 30_000 });
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  });

  /** A customer on WhatsApp: digits and JID. */
  const customer = () => {
    const phone = `55119876${String(++seq).padStart(5, "0")}`;
    stack.peers.directory.register(phone);
    return { phone, jid: `${phone}@s.whatsapp.net` };
  };

  /** The customer writes to the number from their phone; resolves with their contact's id once stored. */
  async function customerWrites(jid: string, text: string): Promise<string> {
    await peer.inject({ chatJid: jid, senderJid: jid, text, pushName: "Maria" });
    return waitFor(
      async () => {
        const page = await stack.api.call<{ data: Conversation[] }>("GET", "/conversations?limit=200");
        return page.data.find((c) => c.chat_jid === jid)?.contact.id ?? null;
      },
      15_000,
      { what: `${jid}'s conversation` },
    );
  }

  const send = (body: Record<string, unknown>) => stack.api.raw<any>("POST", "/messages/text", body);
  const arrivedFor = (jid: string) => peer.accepted().filter((m) => m.to === jid);
  const history = (contactId: string) => stack.api.call<{ data: Entry[] }>("GET", `/contacts/${contactId}/history`);

  /** Sends in every form are refused with `code`; after a while, still nothing for them reached WhatsApp. */
  async function nothingLeavesFor(who: { phone: string; jid: string }, code: string) {
    for (const to of [`+${who.phone}`, who.jid, `+${who.phone.slice(0, 4)}${who.phone.slice(5)}`]) {
      const res = await send({ to, body: "Promoção imperdível!" });
      expect(res.status, to).toBe(422);
      expect(res.body.error).toMatchObject({ code, details: { field: "to" } });
    }
    await new Promise((r) => setTimeout(r, 2_000));
    expect(arrivedFor(who.jid)).toEqual([]);
  }

  it("opt-out through the API: a real send is refused and the peer receives nothing; after opt-in it arrives", async () => {
    const who = customer();
    const contactId = await customerWrites(who.jid, "Oi, quero saber mais");
    const optout = await stack.api.call<{ status: string }>("POST", `/contacts/${contactId}/optout`);
    expect(optout.status).toBe("opted_out");

    await nothingLeavesFor(who, "recipient_opted_out");
    const convo = await stack.api.call<{ data: { direction: string }[] }>("GET", `/conversations/${who.jid}/messages`);
    expect(convo.data.filter((m) => m.direction === "outbound")).toEqual([]);

    // The same path works once they opt back in: the refusal above was the opt-out, not a broken send.
    await stack.api.call("POST", `/contacts/${contactId}/optin`);
    const res = await send({ to: `+${who.phone}`, body: "Bem-vinda de volta" });
    expect(res.status).toBe(202);
    const arrived = await peer.waitForAccepted((m) => m.to === who.jid, 15_000);
    expect(arrived.message.conversation ?? arrived.message.extendedTextMessage?.text).toBe("Bem-vinda de volta");
  });

  it("a customer who writes only 'Sair' opts out by keyword: on the list by the contact, in the timeline, and sends are refused", async () => {
    const who = customer();
    const contactId = await customerWrites(who.jid, "  Sair ");
    const entry = await waitFor(
      async () => {
        const list = await stack.api.call<{ data: { phone: string; reason: string; source: string }[] }>("GET", "/suppressions");
        return list.data.find((e) => e.phone === `+${who.phone}`) ?? null;
      },
      10_000,
      { what: "the suppression entry" },
    );
    expect(entry).toMatchObject({ reason: "optout", source: "contact" });
    const timeline = (await history(contactId)).data;
    expect(timeline.find((e) => e.kind === "event" && e.type === "opted_out")).toMatchObject({ actor: "contact", payload: { keyword: "Sair" } });
    expect(timeline.find((e) => e.kind === "message")).toMatchObject({ direction: "inbound", actor: "contact", payload: { body: "  Sair " } });
    await nothingLeavesFor(who, "recipient_opted_out");
  });

  it("a send's tags[] and groups[] stamp the recipient's contact, and the message arrives", async () => {
    const who = customer();
    const res = await send({ to: `+${who.phone}`, body: "Bem-vindo!", tags: ["hot-lead"], groups: ["onboarding"] });
    expect(res.status).toBe(202);
    await peer.waitForAccepted((m) => m.to === who.jid, 15_000);
    const tags = await stack.api.call<{ data: { key: string; count: number }[] }>("GET", "/tags");
    expect(tags.data.find((t) => t.key === "hot-lead")?.count).toBe(1);
    const groups = await stack.api.call<{ data: { key: string; count: number }[] }>("GET", "/contact-groups");
    expect(groups.data.find((g) => g.key === "onboarding")?.count).toBe(1);
    const message = await waitFor(
      async () => {
        const m = await stack.api.call<{ contact_id: string | null }>("GET", `/messages/${res.body.id}`);
        return m.contact_id;
      },
      10_000,
      { what: "the message joining its contact" },
    );
    const timeline = (await history(message)).data;
    expect(timeline.map((e) => [e.kind, e.type]).sort()).toEqual([
      ["event", "group_added"],
      ["event", "tag_added"],
      ["message", "text"],
    ]);
  });
});

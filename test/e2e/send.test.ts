/**
 * The send path against real WhatsApp-protocol peers: each number is a peer
 * server, so where a message arrives shows which number sent it, and the
 * peer's decrypted copy shows what WhatsApp got. (Media and group sends are
 * not possible against this peer; the fleet suite covers them around the
 * socket.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { summarize } from "../peer/decode.ts";
import { d1Execute } from "../harness/edge.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Accepted = { id: string; status: string; instance_id: string; chat_jid: string; reference: string | null };
type Message = { id: string; status: string; wa_message_id: string; wa_message_ids: string[]; instance_id: string; chat_jid: string };

describe("e2e: sending", () => {
  const stack = useStack("send", 3);
  let ids: string[];
  let customerSeq = 0;

  beforeAll(async () => {
    stack.fleet();
    const instances = await stack.connectNumbers(3, { timeoutMs: 30_000 });
    ids = instances.map((i) => i.id);
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  });

  /** A customer WhatsApp knows, as a JID. */
  const customer = () => {
    const phone = `55119777${String(++customerSeq).padStart(5, "0")}`;
    stack.peers.directory.register(phone);
    return `${phone}@s.whatsapp.net`;
  };
  const send = (type: string, body: object) => stack.api.call<Accepted>("POST", `/messages/${type}`, body, 202);
  const sent = (id: string) =>
    waitFor(
      async () => {
        const m = await stack.api.call<Message>("GET", `/messages/${id}`);
        return m.status === "sent" ? m : null;
      },
      15_000,
      { what: `message ${id} sent` },
    );
  /**
   * Which peer (number) received the WhatsApp message `waId`, and what it was.
   * "sent" means the frame left the fleet; the peer may record it a moment later.
   */
  const arrival = (waId: string) =>
    waitFor(
      () => {
        for (const [index, peer] of stack.peers.peers.entries()) {
          const found = peer.accepted().find((m) => m.id === waId);
          if (found) return { index, ...found, summary: summarize(found.message) };
        }
        return null;
      },
      5_000,
      { intervalMs: 20, what: `${waId} to arrive at a peer` },
    );
  const peerOf = (instanceId: string) => ids.indexOf(instanceId);

  it("delivers every type the peer accepts, decrypted, under the WhatsApp id chosen at accept", async () => {
    const to = customer();
    const pin = { to, instance_id: ids[0] };
    const cases: [string, object, (s: ReturnType<typeof summarize>) => void][] = [
      ["text", { body: "Olá 👋" }, (s) => expect(s).toEqual({ type: "text", text: "Olá 👋" })],
      [
        "location",
        { latitude: -23.561, longitude: -46.656, name: "Av. Paulista", address: "São Paulo" },
        (s) => expect(s).toMatchObject({ type: "location", latitude: -23.561, longitude: -46.656, name: "Av. Paulista" }),
      ],
      [
        "contact",
        { contact_name: "Suporte", contact_phone: "+55 11 95555-0000" },
        (s) => expect(s).toMatchObject({ type: "contact", display_name: "Suporte", vcard: expect.stringContaining("waid=5511955550000") }),
      ],
      [
        "poll",
        { name: "Which slot?", options: ["Morning", "Afternoon"] },
        (s) => expect(s).toMatchObject({ type: "poll", name: "Which slot?", options: ["Morning", "Afternoon"], selectable_count: 1 }),
      ],
      [
        "buttons",
        { body: "Confirm?", buttons: [{ id: "y", title: "Yes" }, { id: "n", title: "No" }] },
        (s) => expect(s).toMatchObject({ type: "text", text: expect.stringMatching(/Confirm\?[\s\S]*1\. Yes\n2\. No/) }),
      ],
    ];
    for (const [type, body, check] of cases) {
      const accepted = await send(type, { ...pin, ...body });
      const message = await sent(accepted.id);
      const got = await arrival(message.wa_message_id);
      expect(got.index, type).toBe(0);
      expect(got.to).toBe(to);
      check(got.summary);
    }
    // A reaction to the text above, from the number that sent it.
    const text = await sent((await send("text", { ...pin, body: "react to me" })).id);
    const reaction = await sent((await send("reaction", { to, quoted_message_id: text.wa_message_id, emoji: "❤️" })).id);
    expect((await arrival(reaction.wa_message_id)).summary).toMatchObject({
      type: "reaction",
      emoji: "❤️",
      target: { id: text.wa_message_id, from_me: true },
    });
    // GET /metrics counts what this number sent (the suite's first sends), with their accept->sent latency.
    const metrics = await stack.api.call<{ totals: { sent: number; failed: number; latency_ms: { p50: number | null } } }>("GET", `/metrics?instance_id=${ids[0]}`);
    expect(metrics.totals).toMatchObject({ sent: cases.length + 2, failed: 0 });
    expect(metrics.totals.latency_ms.p50).toBeGreaterThan(0);
  });

  it("sends a reply as a WhatsApp reply quoting the original (ours or the customer's), and a contact card of the sending number's own phone", async () => {
    const to = customer();
    const peer = stack.peers.peers[1]!;
    const original = await sent((await send("text", { to, instance_id: ids[1], body: "Your order shipped" })).id);
    // Quoted by our id, sent without instance_id: it goes through the number that has the original.
    const reply = await sent((await send("text", { to, body: "Tracking: BR123", quoted_message_id: original.id, sticky: false })).id);
    const got = await arrival(reply.wa_message_id);
    expect(got.index).toBe(1);
    const context = got.message.extendedTextMessage?.contextInfo;
    expect(got.message.extendedTextMessage?.text).toBe("Tracking: BR123");
    expect(context?.stanzaId).toBe(original.wa_message_id);
    expect(context?.participant).toBe(peer.selfJid);
    expect(context?.quotedMessage?.conversation).toBe("Your order shipped");

    // The customer writes; the number replies to that message by its WhatsApp id.
    const theirs = await peer.inject({ chatJid: to, senderJid: to, text: "Is it insured?", pushName: "Maria" });
    await waitFor(
      async () => {
        const page = await stack.api.call<{ data: { wa_message_id: string }[] }>("GET", `/conversations/${encodeURIComponent(to)}/messages`);
        return page.data.some((m) => m.wa_message_id === theirs) || null;
      },
      15_000,
      { what: "the customer's message stored" },
    );
    const answer = await sent((await send("text", { to, body: "Yes, fully.", quoted_message_id: theirs })).id);
    const quotedTheirs = (await arrival(answer.wa_message_id)).message.extendedTextMessage?.contextInfo;
    expect(quotedTheirs).toMatchObject({ stanzaId: theirs, participant: to, quotedMessage: { conversation: "Is it insured?" } });

    // A card with only a name carries the number's own phone (reference 002).
    const card = await sent((await send("contact", { to, instance_id: ids[1], contact_name: "Loja" })).id);
    expect((await arrival(card.wa_message_id)).summary).toMatchObject({
      type: "contact",
      display_name: "Loja",
      vcard: expect.stringContaining(`waid=${peer.phone}:+${peer.phone}`),
    });
  });

  it("sends mentions as WhatsApp mentions: the JIDs WhatsApp knows, in contextInfo", async () => {
    const to = customer();
    const mentioned = customer();
    const digits = mentioned.split("@")[0]!;
    const message = await sent(
      (await send("text", { to, instance_id: ids[0], body: `@${digits} can help you`, mentions: [`+${digits}`] })).id,
    );
    const got = await arrival(message.wa_message_id);
    expect(got.message.extendedTextMessage?.text).toBe(`@${digits} can help you`);
    expect(got.message.extendedTextMessage?.contextInfo?.mentionedJid).toEqual([mentioned]);
  });

  it("sends an OTP as two messages, the bare code last", async () => {
    const to = customer();
    const message = await sent((await send("otp", { to, instance_id: ids[0], code: "738291", expiry_minutes: 5 })).id);
    expect(message.wa_message_ids).toHaveLength(2);
    const [context, code] = await Promise.all(message.wa_message_ids.map(arrival));
    expect(context!.summary).toMatchObject({ type: "text" });
    expect((context!.summary as { text: string }).text).not.toContain("738291");
    expect(code!.summary).toEqual({ type: "text", text: "738291" });
    expect(Date.parse(code!.at)).toBeGreaterThanOrEqual(Date.parse(context!.at));
  });

  it("finds a Brazilian number under the form WhatsApp knows, and refuses one that is not on WhatsApp", async () => {
    stack.peers.directory.register("5511988887777");
    const accepted = await send("text", { to: "+55 11 8888-7777", body: "nono dígito", instance_id: ids[1] });
    expect(accepted.chat_jid).toBe("5511988887777@s.whatsapp.net");
    const message = await sent(accepted.id);
    expect((await arrival(message.wa_message_id)).to).toBe("5511988887777@s.whatsapp.net");

    const unknown = await stack.api.raw<{ error: { code: string } }>("POST", "/messages/text", { to: "+55 11 91234-0000", body: "x" });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe("not_on_whatsapp");
  });

  it("routes as reference 000 says, as seen by which number each message arrives from", async () => {
    // Sticky: a contact keeps hearing from one number.
    const sticky = customer();
    const stickyFrom = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const m = await sent((await send("text", { to: sticky, body: `sticky ${i}` })).id);
      stickyFrom.add((await arrival(m.wa_message_id)).index);
    }
    expect(stickyFrom.size).toBe(1);

    // Pinned: exactly that number.
    const pinned = await sent((await send("text", { to: sticky, body: "pinned", instance_id: ids[2] })).id);
    expect((await arrival(pinned.wa_message_id)).index).toBe(2);

    // sticky:false: rotation, each number in turn.
    const broadcast = customer();
    const rotated: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await sent((await send("text", { to: broadcast, body: `promo ${i}`, sticky: false })).id);
      rotated.push((await arrival(m.wa_message_id)).index);
    }
    expect(new Set(rotated).size).toBe(3);

    // A pool: only its numbers, by its strategy.
    const pool = await stack.api.call<{ id: string }>("POST", "/pools", { name: "sales", strategy: "round_robin", instance_ids: [ids[1], ids[2]] }, 201);
    const fromPool: number[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await sent((await send("text", { to: customer(), body: `pool ${i}`, pool_id: pool.id })).id);
      fromPool.push((await arrival(m.wa_message_id)).index);
    }
    expect(fromPool.filter((i) => i === 1)).toHaveLength(2);
    expect(fromPool.filter((i) => i === 2)).toHaveLength(2);
  });

  it("sends every message accepted during a fleet restart exactly once", async () => {
    const customers = Array.from({ length: 6 }, customer);
    // Paced at 300 ms per number, a 30-message burst takes seconds to leave.
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: true, min_gap_ms: 300, max_gap_ms: 300, typing: false } });
    const accepted: Accepted[] = await Promise.all(
      Array.from({ length: 30 }, (_, i) => send("text", { to: customers[i % customers.length], body: `burst ${i}` })),
    );
    await waitFor(async () => (await stack.api.call<Message>("GET", `/messages/${accepted[0]!.id}`)).status === "sent", 10_000);
    const old = stack.fleets.at(-1)!;
    await old.stop();
    // The fleet went away mid-burst: some messages were sent, others still wait.
    const statuses = await Promise.all(accepted.map(async (a) => (await stack.api.call<Message>("GET", `/messages/${a.id}`)).status));
    expect(statuses.filter((st) => st === "sent").length).toBeGreaterThan(0);
    expect(statuses.filter((st) => st === "queued").length).toBeGreaterThan(0);
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false } });
    // With no number connected, rotation has nothing to offer (409, reference 003); a pinned
    // message is accepted and waits for its number.
    const unpinned = await stack.api.raw<{ error: { code: string } }>("POST", "/messages/text", { to: customers[0], body: "nobody" });
    expect(unpinned.status).toBe(409);
    expect(unpinned.body.error.code).toBe("no_number_available");
    for (let i = 30; i < 45; i++) {
      accepted.push(await send("text", { to: customers[i % customers.length], body: `burst ${i}`, instance_id: ids[i % 3] }));
    }
    stack.fleet();
    await stack.waitConnected(ids, 30_000);

    const messages = await Promise.all(accepted.map((a) => sent(a.id)));
    await Promise.all(messages.map((m) => arrival(m.wa_message_id)));
    const arrivals = stack.peers.peers.flatMap((p) => p.accepted()).map((m) => ({ id: m.id, summary: summarize(m.message) }));
    for (const [i, message] of messages.entries()) {
      const copies = arrivals.filter((a) => a.summary.type === "text" && a.summary.text === `burst ${i}`);
      // At least once, and only ever under its one WhatsApp id: to WhatsApp, one message.
      expect(copies.length, `burst ${i}`).toBeGreaterThanOrEqual(1);
      expect(new Set(copies.map((c) => c.id)), `burst ${i}`).toEqual(new Set([message.wa_message_id]));
    }
    expect(arrivals.some((a) => a.summary.type === "text" && a.summary.text === "nobody")).toBe(false);
  });

  it("leaves out a logged-out number, and uses a warming number only when no warmed one can send", async () => {
    await stack.api.call("PATCH", "/settings", { warming_days: 5 });
    // ids[1] connected a week ago (warmed); ids[2] connected today (warming); ids[0] logs out.
    await d1Execute(stack.edge, `UPDATE instances SET first_connected_at = '${new Date(Date.now() - 7 * 86_400_000).toISOString()}' WHERE id = '${ids[1]}'`);
    await stack.api.logout(ids[0]!);
    await waitFor(async () => (await stack.api.getInstance(ids[0]!)).state === "disconnected", 10_000, { what: "logged out" });
    expect((await stack.api.getInstance(ids[2]!)).warming).toMatchObject({ day: 1 });

    for (let i = 0; i < 3; i++) {
      const m = await sent((await send("text", { to: customer(), body: `warm ${i}`, sticky: false })).id);
      expect((await arrival(m.wa_message_id)).index).toBe(1);
    }
    await stack.api.logout(ids[1]!);
    await waitFor(async () => (await stack.api.getInstance(ids[1]!)).state === "disconnected", 10_000, { what: "logged out" });
    const fallback = await sent((await send("text", { to: customer(), body: "only the warming one is left", sticky: false })).id);
    expect((await arrival(fallback.wa_message_id)).index).toBe(2);
    expect(peerOf(fallback.instance_id)).toBe(2);
  });
});

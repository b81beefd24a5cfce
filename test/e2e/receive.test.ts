/**
 * The receive path against a real WhatsApp-protocol peer: a customer writes
 * to one of our numbers (the peer injects the message into the number's
 * socket, as WhatsApp would), and the project's systems hear about it
 * through a signed webhook on loopback and through SSE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Peer } from "../harness/peers.ts";
import type { InboundInjection } from "../peer/peer.ts";
import { type SseListener, listen } from "./sse-client.ts";
import { useStack } from "../harness/use-stack.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";

type Conversation = {
  id: string;
  chat_jid: string;
  contact: { id: string; phone: string | null; jid: string | null; lid: string | null; name: string | null };
  instance_id: string;
  unread_count: number;
  window_expires_at: string | null;
};
type Page<T> = { data: T[]; next_cursor: string | null };

/** What the customer's phone sends: the peer puts it on the number's socket. */
async function inject(peer: Peer, message: InboundInjection): Promise<void> {
  await peer.inject({ pushName: "Maria", ...message });
}

describe("e2e: receiving", () => {
  const stack = useStack("receive", 1);
  let instanceId: string;
  let peer: Peer;
  const receiver = new WebhookReceiver();
  let sse: SseListener;
  let seq = 0;
  const customer = () => `55119666${String(++seq).padStart(5, "0")}`;

  beforeAll(async () => {
    peer = stack.peers.peers[0]!;
    await receiver.subscribe(stack.api, ["message.*", "contact.*"]);
    sse = await listen(stack.edge.url, stack.api.token);
    stack.fleet();
    const [instance] = await stack.connectNumbers(1, { timeoutMs: 30_000 });
    instanceId = instance!.id;
  });

  afterAll(async () => {
    sse?.close();
    await receiver.close();
  });

  it("an inbound text reaches the webhook signed, in reference 002's envelope, and the same event reaches SSE", async () => {
    const phone = customer();
    await inject(peer, { chatJid: `${phone}@s.whatsapp.net`, senderJid: `${phone}@s.whatsapp.net`, text: "Oi, tudo bem?" });
    const event = await receiver.waitForEvent((e) => e.type === "message.received" && e.payload?.body === "Oi, tudo bem?");
    expect(receiver.deliveries.filter((d) => d.event?.id === event.id).every((d) => d.valid)).toBe(true);
    expect(event).toMatchObject({
      type: "message.received",
      instance_id: instanceId,
      sender: { jid: `${phone}@s.whatsapp.net`, name: "Maria" },
      payload: { type: "text", from: `${phone}@s.whatsapp.net`, body: "Oi, tudo bem?" },
    });
    expect(event.payload.message_id).toEqual(expect.any(String));
    expect(event.payload.wa_message_id).toEqual(expect.any(String));
    expect(event.contact_id).toEqual(expect.any(String));
    expect(event.conversation_id).toEqual(expect.any(String));
    // Secrets never ride along.
    expect(JSON.stringify(event)).not.toContain(stack.api.token);

    const live = await sse.waitFor((e) => e.data?.id === event.id);
    expect(live.event).toBe("message.received");
    expect(live.data).toEqual(event);

    // One stored message, in the customer's one conversation, now sticky to this number.
    const page = await stack.api.call<Page<{ id: string; body: string; direction: string }>>(
      "GET",
      `/conversations/${phone}@s.whatsapp.net/messages`,
    );
    expect(page.data.map((m) => m.id)).toEqual([event.payload.message_id]);
    const convos = await stack.api.call<Page<Conversation>>("GET", `/conversations?instance_id=${instanceId}`);
    const convo = convos.data.find((c) => c.id === event.conversation_id)!;
    expect(convo).toMatchObject({ chat_jid: `${phone}@s.whatsapp.net`, instance_id: instanceId, unread_count: 1 });
    expect(Date.parse(convo.window_expires_at!)).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });

  it("an inbound voice note lands in the private bucket; the event's link redirects to the same bytes", async () => {
    const phone = customer();
    const audio = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 256));
    await inject(peer, {
      chatJid: `${phone}@s.whatsapp.net`,
      senderJid: `${phone}@s.whatsapp.net`,
      audio: { contentBase64: audio.toString("base64"), mimeType: "audio/ogg; codecs=opus", ptt: true },
    });
    const event = await receiver.waitForEvent((e) => e.type === "message.received" && e.sender?.jid === `${phone}@s.whatsapp.net`);
    expect(event.payload.type).toBe("audio");
    const media = event.payload.media;
    expect(media).toMatchObject({ id: expect.any(String), mime_type: expect.stringMatching(/^audio\/ogg/), size: audio.length });
    expect(media.url).toMatch(new RegExp(`^${stack.edge.url}/media/${media.id}\\?exp=\\d+&sig=`));

    // The link needs no API key; it answers with a redirect to a presigned R2 URL.
    const redirect = await fetch(media.url, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location")!;
    expect(location).toContain("X-Amz-Signature=");
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(audio)).toBe(true);

    // Tampered or expired links are refused.
    const tampered = media.url.replace(/sig=./, (m: string) => (m.endsWith("A") ? "sig=B" : "sig=A"));
    expect((await fetch(tampered, { redirect: "manual" })).status).toBe(403);
    const expired = media.url.replace(/exp=\d+/, "exp=1000000000");
    expect((await fetch(expired, { redirect: "manual" })).status).toBe(403);
  });

  it("with the receiver down for a while, every event still arrives once it is back, none lost", async () => {
    await receiver.down();
    const phone = customer();
    const texts = Array.from({ length: 5 }, (_, i) => `mensagem ${i + 1} enquanto o receptor está fora`);
    for (const text of texts) await inject(peer, { chatJid: `${phone}@s.whatsapp.net`, senderJid: `${phone}@s.whatsapp.net`, text });
    // They are stored and on SSE at once, whatever the endpoint does.
    for (const text of texts) await sse.waitFor((e) => e.data?.payload?.body === text);
    await new Promise((r) => setTimeout(r, 4_000)); // a few failed attempts
    await receiver.up();
    for (const text of texts) await receiver.waitForEvent((e) => e.payload?.body === text, 60_000, `"${text}"`);
    const ids = receiver.events("message.received").filter((e) => e.sender?.jid === `${phone}@s.whatsapp.net`).map((e) => e.id);
    expect(new Set(ids).size).toBe(texts.length);

    // The delivery log shows the failed attempts before the success.
    const hooks = await stack.api.call<{ data: { id: string }[] }>("GET", "/webhooks");
    const log = await stack.api.call<{ data: { event_id: string; status: string; attempts: number }[] }>(
      "GET",
      `/webhooks/${hooks.data[0]!.id}/deliveries?limit=50`,
    );
    const mine = log.data.filter((d) => ids.includes(d.event_id));
    expect(mine).toHaveLength(texts.length);
    expect(mine.every((d) => d.status === "delivered")).toBe(true);
    expect(mine.some((d) => d.attempts > 1)).toBe(true);
  });

  it("an @lid sender later mapped to a phone ends up in one conversation", async () => {
    const phone = customer();
    const lid = `${phone.slice(-9)}77@lid`;
    await inject(peer, { chatJid: lid, senderJid: lid, text: "escrevo pelo lid" });
    const first = await receiver.waitForEvent((e) => e.payload?.body === "escrevo pelo lid");
    expect(first.sender).toMatchObject({ lid });
    // WhatsApp names the phone behind the LID on a later message.
    await inject(peer, { chatJid: lid, senderJid: lid, senderPn: `${phone}@s.whatsapp.net`, text: "agora com telefone" });
    const second = await receiver.waitForEvent((e) => e.payload?.body === "agora com telefone");
    expect(second.sender).toMatchObject({ jid: `${phone}@s.whatsapp.net`, lid });
    expect(second.payload.from).toBe(`${phone}@s.whatsapp.net`);

    const page = await stack.api.call<Page<{ id: string }>>("GET", `/conversations/${phone}@s.whatsapp.net/messages`);
    expect(page.data.map((m) => m.id).sort()).toEqual([first.payload.message_id, second.payload.message_id].sort());
    const byLid = await stack.api.call<Page<{ id: string }>>("GET", `/conversations/${encodeURIComponent(lid)}/messages`);
    expect(byLid.data.map((m) => m.id).sort()).toEqual(page.data.map((m) => m.id).sort());
    const convos = await stack.api.call<Page<Conversation>>("GET", "/conversations?limit=100");
    const mine = convos.data.filter((c) => c.contact.lid === lid || c.chat_jid === `${phone}@s.whatsapp.net`);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ chat_jid: `${phone}@s.whatsapp.net`, contact: { jid: `${phone}@s.whatsapp.net`, lid } });
  });

  it("a customer's edit and delete for everyone at the peer become message.edited and message.deleted; the message shows the new body, then no body", async () => {
    const phone = customer();
    const jid = `${phone}@s.whatsapp.net`;
    const waId = await peer.inject({ chatJid: jid, senderJid: jid, text: "Quero 3 caixas", pushName: "Maria" });
    const received = await receiver.waitForEvent((e) => e.type === "message.received" && e.payload?.wa_message_id === waId);
    const id: string = received.payload.message_id;

    await peer.inject({ chatJid: jid, senderJid: jid, edit: { targetId: waId, text: "Quero 4 caixas" }, pushName: "Maria" });
    const edited = await receiver.waitForEvent((e) => e.type === "message.edited" && e.payload?.message_id === id);
    expect(edited).toMatchObject({
      instance_id: instanceId,
      contact_id: received.contact_id,
      conversation_id: received.conversation_id,
      payload: { wa_message_id: waId, chat_jid: jid, direction: "inbound", by: "customer", previous_body: "Quero 3 caixas", body: "Quero 4 caixas" },
    });
    const afterEdit = await stack.api.call<any>("GET", `/messages/${id}`);
    expect(afterEdit).toMatchObject({ status: "received", content: { body: "Quero 4 caixas" }, edited_at: edited.payload.edited_at });
    expect(afterEdit.edits).toEqual([{ previous_body: "Quero 3 caixas", body: "Quero 4 caixas", by: "customer", at: edited.payload.edited_at }]);

    await peer.inject({ chatJid: jid, senderJid: jid, revoke: { targetId: waId }, pushName: "Maria" });
    const deleted = await receiver.waitForEvent((e) => e.type === "message.deleted" && e.payload?.message_id === id);
    expect(deleted).toMatchObject({ instance_id: instanceId, payload: { wa_message_id: waId, chat_jid: jid, direction: "inbound", by: "customer" } });
    const afterDelete = await stack.api.call<any>("GET", `/messages/${id}`);
    expect(afterDelete).toMatchObject({ status: "deleted", reason: "deleted_by_customer", content: { body: null } });
    const page = await stack.api.call<Page<{ id: string; status: string; body: string | null }>>("GET", `/conversations/${jid}/messages`);
    expect(page.data.map((m) => [m.id, m.status, m.body])).toEqual([[id, "deleted", null]]);
    // Each envelope changed the message once, and none became a message of its own.
    expect(receiver.events().filter((e) => e.payload?.message_id === id).map((e) => e.type)).toEqual(["message.received", "message.edited", "message.deleted"]);
  });

  it("SSE resumes from Last-Event-ID without gaps or repeats", async () => {
    const before = sse.lastId();
    sse.close();
    const phone = customer();
    const texts = ["enquanto ninguém ouvia 1", "enquanto ninguém ouvia 2", "enquanto ninguém ouvia 3"];
    for (const text of texts) await inject(peer, { chatJid: `${phone}@s.whatsapp.net`, senderJid: `${phone}@s.whatsapp.net`, text });
    await receiver.waitForEvent((e) => e.payload?.body === texts.at(-1));
    sse = await listen(stack.edge.url, stack.api.token, { lastEventId: before });
    await sse.waitFor((e) => e.data?.payload?.body === texts.at(-1));
    const bodies = sse.events.filter((e) => e.event === "message.received").map((e) => e.data.payload.body);
    expect(bodies).toEqual(texts);
    const ids = sse.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    expect(ids[0]).toBe(Number(before) + 1);
    ids.forEach((id, i) => i > 0 && expect(id).toBe(ids[i - 1]! + 1));
  });

  it("every event this suite's webhook received matches its payload as the API document describes it", () => {
    expect(receiver.events().length).toBeGreaterThan(10);
    expect(receiver.undocumented()).toEqual([]);
  });
});

/**
 * GET /conversations, GET /conversations/{jid}/messages and POST .../read,
 * over conversations made the real way: received messages through the
 * number's fleet socket, and sends through the API.
 */
import { describe, expect, it } from "vitest";
import { call, connectedFleet, deliver, eventsUntil, fail, inboundMessage, messageOf, newInstance, newProject, noPacing, useFleetSockets, waitFor, walk } from "./helpers.ts";

useFleetSockets();

const jidOf = (i: number) => `55119770000${String(i).padStart(2, "0")}@s.whatsapp.net`;

async function setup() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  // Every test customer is on WhatsApp under the JID they write from.
  const onWhatsApp = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [jidOf(i).split("@")[0]!, jidOf(i)]));
  const fleet = await connectedFleet(instance.id, { onWhatsApp });
  return { key, id: instance.id, fleet };
}

const get = (key: string, path: string) => call(path, { token: key });

describe("listing conversations", () => {
  it("pages through every conversation newest activity first, each once, with an opaque cursor", async () => {
    const { key, fleet } = await setup();
    for (let i = 0; i < 7; i++) await deliver(fleet.socket, inboundMessage(jidOf(i), { body: `cliente ${i}` }));
    // Activity moves a conversation to the top.
    await deliver(fleet.socket, inboundMessage(jidOf(2), { body: "de novo" }));

    const { seen, pages } = await walk(key, "/conversations", 3);
    expect(pages).toBe(3);
    expect(seen.map((c) => c.chat_jid)).toEqual([2, 6, 5, 4, 3, 1, 0].map(jidOf));
    expect(new Set(seen.map((c) => c.id)).size).toBe(7);
    expect(seen[0]).toMatchObject({ unread_count: 2, last_message: { body: "de novo" } });
  });

  it("filters by the number holding the conversation", async () => {
    const { api_key: key } = await newProject();
    const a = await newInstance(key, "a");
    const b = await newInstance(key, "b");
    const fleetA = await connectedFleet(a.id);
    const fleetB = await connectedFleet(b.id);
    await deliver(fleetA.socket, inboundMessage(jidOf(1)));
    await deliver(fleetB.socket, inboundMessage(jidOf(2)));
    // The customer moves to the other number: their one conversation follows.
    await deliver(fleetB.socket, inboundMessage(jidOf(1)));
    expect((await get(key, `/conversations?instance_id=${a.id}`)).json.data).toEqual([]);
    const onB = (await get(key, `/conversations?instance_id=${b.id}`)).json.data;
    expect(onB.map((c: any) => c.chat_jid).sort()).toEqual([jidOf(1), jidOf(2)]);
    expect((await get(key, "/conversations")).json.data).toHaveLength(2);
  });

  it("shows a conversation we started as having no open window, and our reply clears what was unread", async () => {
    const { key, id, fleet } = await setup();
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: jidOf(1), body: "Promo!", instance_id: id } });
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    const [ours] = (await get(key, "/conversations")).json.data;
    expect(ours).toMatchObject({
      chat_jid: jidOf(1),
      contact: { phone: "+5511977000001", jid: jidOf(1) },
      last_message: { id: res.json.id, direction: "outbound", body: "Promo!", status: "sent" },
      unread_count: 0,
      last_inbound_at: null,
      window_expires_at: null,
      window_open: false,
    });

    await deliver(fleet.socket, inboundMessage(jidOf(1), { body: "quero" }));
    await deliver(fleet.socket, inboundMessage(jidOf(1), { body: "quanto custa?" }));
    const waiting = (await get(key, "/conversations")).json.data[0];
    expect(waiting).toMatchObject({ id: ours.id, unread_count: 2, window_open: true });
    const reply = await call("/messages/text", { method: "POST", token: key, body: { to: "+5511977000001", body: "R$ 10" } });
    expect(reply.json.instance_id).toBe(id);
    await waitFor(async () => (await get(key, "/conversations")).json.data[0].unread_count === 0, 3_000, "read by replying");
    expect((await get(key, "/conversations")).json.data[0]).toMatchObject({ id: ours.id, last_message: { id: reply.json.id, body: "R$ 10" } });
  });
});

describe("a conversation's messages", () => {
  it("pages newest first through both directions, each message once", async () => {
    const { key, id, fleet } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await deliver(fleet.socket, inboundMessage(jidOf(1), { body: `pergunta ${i}` }))).message_id);
      const res = await call("/messages/text", { method: "POST", token: key, body: { to: jidOf(1), body: `resposta ${i}`, reference: `r${i}`, instance_id: id } });
      await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
      ids.push(res.json.id);
    }
    const { seen, pages } = await walk(key, `/conversations/${jidOf(1)}/messages`, 4);
    expect(pages).toBe(3);
    expect(seen.map((m) => m.id)).toEqual([...ids].reverse());
    expect(seen[0]).toMatchObject({ direction: "outbound", status: "sent", to: jidOf(1), body: "resposta 4", reference: "r4", instance_id: id, wa_message_id: expect.any(String) });
    expect(seen[1]).toMatchObject({ direction: "inbound", status: "received", from: jidOf(1), body: "pergunta 4", reference: null, instance_id: id });
  });

  it("shows a send still queued without its WhatsApp id", async () => {
    const { api_key: key } = await newProject();
    const instance = await newInstance(key);
    const fleet = await connectedFleet(instance.id);
    await deliver(fleet.socket, inboundMessage(jidOf(1)));
    fleet.socket.ws.close(1000, "gone");
    await fleet.socket.closed;
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: jidOf(1), body: "on its way", instance_id: instance.id } });
    const [queued] = (await get(key, `/conversations/${jidOf(1)}/messages`)).json.data;
    expect(queued).toMatchObject({ id: res.json.id, status: "queued", wa_message_id: null, body: "on its way" });
  });

  it("shows why a send failed, as GET /messages/{id} does, and no reason for the others", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const instance = await newInstance(key);
    const fleet = await connectedFleet(instance.id, { answer: (frame) => (frame.content?.text === "broken" ? fail("invalid_content") : undefined) });
    await deliver(fleet.socket, inboundMessage(jidOf(1)));
    const send = async (body: string) =>
      (await call("/messages/text", { method: "POST", token: key, body: { to: jidOf(1), body, instance_id: instance.id } })).json.id as string;
    const broken = await send("broken");
    await waitFor(async () => (await messageOf(key, broken)).status === "failed", 3_000, "failed");
    const fine = await send("fine");
    await waitFor(async () => (await messageOf(key, fine)).status === "sent", 3_000, "sent");
    const history = (await get(key, `/conversations/${jidOf(1)}/messages`)).json.data;
    expect(history.find((m: { id: string }) => m.id === broken)).toMatchObject({ status: "failed", reason: "invalid_content" });
    expect(history.find((m: { id: string }) => m.id === fine)).toMatchObject({ status: "sent", reason: null });
    expect(history.find((m: { direction: string }) => m.direction === "inbound")).toMatchObject({ status: "received", reason: null });
  });

  it("answers 400 naming the parameter for a bad limit, cursor or JID, and 404 for a customer with no conversation", async () => {
    const { key, fleet } = await setup();
    await deliver(fleet.socket, inboundMessage(jidOf(1)));
    for (const path of ["/conversations", `/conversations/${jidOf(1)}/messages`]) {
      for (const [query, field] of [
        ["limit=0", "limit"],
        ["limit=201", "limit"],
        ["limit=ten", "limit"],
        ["cursor=not-a-cursor", "cursor"],
        [`cursor=${btoa("[1,2]")}`, "cursor"],
      ] as const) {
        const res = await get(key, `${path}?${query}`);
        expect(res.status, `${path}?${query}`).toBe(400);
        expect(res.json.error).toMatchObject({ code: "invalid_request", details: { field } });
      }
    }
    const bad = await get(key, "/conversations/hello/messages");
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("jid");
    for (const jid of [jidOf(2), "+5511977000002", "999999999999999@lid"]) {
      const missing = await get(key, `/conversations/${encodeURIComponent(jid)}/messages`);
      expect(missing.status, jid).toBe(404);
      expect(missing.json.error.code).toBe("not_found");
      expect((await call(`/conversations/${encodeURIComponent(jid)}/read`, { method: "POST", token: key })).status).toBe(404);
    }
  });

  it("belongs to its project alone", async () => {
    const { key, fleet } = await setup();
    await deliver(fleet.socket, inboundMessage(jidOf(1), { body: "segredo" }));
    const other = await newProject("other");
    expect((await get(other.api_key, "/conversations")).json).toEqual({ data: [], next_cursor: null });
    expect((await get(other.api_key, `/conversations/${jidOf(1)}/messages`)).status).toBe(404);
    expect((await call(`/conversations/${jidOf(1)}/read`, { method: "POST", token: other.api_key })).status).toBe(404);
    expect((await get(key, `/conversations/${jidOf(1)}/messages`)).json.data).toHaveLength(1);
    expect(await eventsUntil(other.api_key, () => true)).toEqual([]);
    // Media links need no key (their signature is the credential); the rest of the surface does.
    const doc = (await call("/openapi.json")).json;
    expect(doc.paths["/media/{id}"].get.security).toEqual([]);
    expect(doc.paths["/conversations"].get.security).toEqual([{ apiKey: [] }]);
    expect((await call("/conversations")).status).toBe(401);
    expect((await eventsUntil(key, (e) => e.length > 0)).map((e) => e.type)).toContain("message.received");
  });
});

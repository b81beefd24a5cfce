/**
 * Calls at the edge, driven as a fleet drives them: the test holds the
 * number's real fleet WebSocket, reports a call (`call.received`) and
 * records what the edge asks back (`call.reject`, the answer's
 * `message.send`), with real D1, Durable Objects and the event hub behind.
 * (The same against WhatsApp's protocol: test/e2e/calls.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { call, connectedFleet, eventsUntil, newInstance, newProject, noPacing, useFleetSockets, waitFor, type FleetSocket } from "./helpers.ts";

const PHONE = "5511988887777";
const PHONE_JID = `${PHONE}@s.whatsapp.net`;
const LID = "123456789012345@lid";

useFleetSockets();

async function setup(calls?: { reject?: boolean; message?: string | null }) {
  const { api_key: key } = await newProject();
  await noPacing(key);
  if (calls) expect((await call("/settings", { method: "PATCH", token: key, body: { calls } })).status).toBe(200);
  const instance = await newInstance(key);
  const rejects: any[] = [];
  const fleet = await connectedFleet(instance.id, {
    methods: {
      "call.reject": (params) => {
        rejects.push(params);
        return {};
      },
    },
  });
  return { key, id: instance.id, fleet, rejects };
}

const offer = (fields: Record<string, unknown> = {}) => ({
  call_id: `CALL${crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}`,
  from: LID,
  from_alt: PHONE_JID,
  video: false,
  group: false,
  group_jid: null,
  timestamp: Math.floor(Date.now() / 1000),
  offline: false,
  ...fields,
});

async function report(socket: FleetSocket, params: object) {
  const res = await socket.request("call.received", params);
  if (!res.ok) throw new Error(`call.received: ${JSON.stringify(res.error)}`);
  return res.result as { rejected: boolean; message_id: string | null; duplicate: boolean };
}

const callEvents = (events: any[]) => events.filter((e) => e.type === "call.received");

describe("calls", () => {
  it("with calls.reject off (the default) a call is reported once as call.received, from the caller's phone; nothing is rejected or sent", async () => {
    const { key, id, fleet, rejects } = await setup();
    const ring = offer({ video: true });
    expect(await report(fleet.socket, ring)).toEqual({ rejected: false, message_id: null, duplicate: false });
    // The fleet repeats a report it got no answer to: the same call, not a second event.
    expect(await report(fleet.socket, ring)).toEqual({ rejected: false, message_id: null, duplicate: true });

    const events = callEvents(await eventsUntil(key, (all) => callEvents(all).length >= 1));
    await new Promise((r) => setTimeout(r, 100));
    expect(callEvents(await eventsUntil(key, () => true))).toHaveLength(1);
    expect(events[0]).toMatchObject({
      instance_id: id,
      payload: { call_id: ring.call_id, from: PHONE_JID, video: true, group: false, group_jid: null, offline: false, rejected: false, message_id: null },
    });
    expect(rejects).toEqual([]);
    expect(fleet.sends).toEqual([]);
  });

  it("with calls.reject and a message: the call is declined through the number at once, the text goes to the caller through the send path, and the event says both", async () => {
    const text = "Não atendemos ligações aqui. Escreva para nós!";
    const { key, id, fleet, rejects } = await setup({ reject: true, message: text });
    const ring = offer();
    const answer = await report(fleet.socket, ring);
    expect(answer).toEqual({ rejected: true, message_id: expect.any(String), duplicate: false });
    // Declined naming the caller as WhatsApp did (the LID), so the socket's reject reaches their call.
    expect(rejects).toEqual([{ call_id: ring.call_id, from: LID }]);

    await waitFor(() => fleet.sends.length === 1, 3_000, "the answer text at the fleet");
    expect(fleet.sends[0]).toMatchObject({ chat_jid: PHONE_JID, content: { type: "text", text } });
    const message = (await call(`/messages/${answer.message_id}`, { token: key })).json;
    expect(message).toMatchObject({ id: answer.message_id, instance_id: id, reference: `call:${ring.call_id}`, chat_jid: PHONE_JID });

    const [event] = callEvents(await eventsUntil(key, (all) => callEvents(all).length >= 1));
    expect(event.payload).toMatchObject({ call_id: ring.call_id, from: PHONE_JID, rejected: true, message_id: answer.message_id });

    // A repeated report: no second reject, no second text, no second event.
    expect(await report(fleet.socket, ring)).toEqual({ rejected: true, message_id: answer.message_id, duplicate: true });
    await new Promise((r) => setTimeout(r, 150));
    expect(rejects).toHaveLength(1);
    expect(fleet.sends).toHaveLength(1);
    expect(callEvents(await eventsUntil(key, () => true))).toHaveLength(1);
  });

  it("a call delivered while the number was offline is over: reported, neither rejected nor answered", async () => {
    const { key, fleet, rejects } = await setup({ reject: true, message: "ligue depois" });
    const ring = offer({ offline: true });
    expect(await report(fleet.socket, ring)).toEqual({ rejected: false, message_id: null, duplicate: false });
    const [event] = callEvents(await eventsUntil(key, (all) => callEvents(all).length >= 1));
    expect(event.payload).toMatchObject({ call_id: ring.call_id, offline: true, rejected: false, message_id: null });
    expect(rejects).toEqual([]);
    expect(fleet.sends).toEqual([]);
  });

  it("PATCH /settings calls: merged field by field, shown in GET; bad values are a 400 naming the field", async () => {
    const { api_key: key } = await newProject();
    expect((await call("/settings", { token: key })).json.calls).toEqual({ reject: false, message: null });
    const on = await call("/settings", { method: "PATCH", token: key, body: { calls: { reject: true } } });
    expect(on.json.calls).toEqual({ reject: true, message: null });
    const message = await call("/settings", { method: "PATCH", token: key, body: { calls: { message: "só mensagens" } } });
    expect(message.json.calls).toEqual({ reject: true, message: "só mensagens" });
    for (const [calls, field] of [
      [{ reject: "yes" }, "calls.reject"],
      [{ message: "" }, "calls.message"],
      [{ hangup: true }, "calls"],
    ] as const) {
      const res = await call("/settings", { method: "PATCH", token: key, body: { calls } });
      expect(res.status, JSON.stringify(calls)).toBe(400);
      expect(res.json.error.details.field).toBe(field);
    }
  });
});

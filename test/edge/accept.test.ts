/**
 * What accepting a send costs and keeps (issue 15): the accept's independent
 * D1 reads travel as one batch, and every answer a client relies on stays as
 * it was. Real D1 and Durable Objects; the fleet is the test's WebSocket.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { affinityOf } from "../../edge/objects/stubs.ts";
import { sendMessage } from "../../edge/services/messages.ts";
import { sendRequest } from "../../edge/services/send-request.ts";
import { getSettings } from "../../edge/services/settings.ts";
import { CUSTOMER, CUSTOMER_JID, api, crmProject, sendText } from "./crm-fixtures.ts";
import { call, connectedFleet, countingEnv, deliver, inboundMessage, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const text = (body: string) => sendRequest("text", { to: CUSTOMER, body, sticky: true });

describe("the cost of an accepted send", () => {
  it("a sticky text to a customer looked up before costs two D1 round trips (its reads, then the message) and no Durable Object call for its number, with an Idempotency-Key too; its retry one", async () => {
    const project = await crmProject();
    // The first send looks the customer up on WhatsApp and sticks them to the number; settings are cached per isolate.
    expect((await sendText(project.key, { to: CUSTOMER })).status).toBe(202);
    await getSettings(env, project.projectId);

    const plain = countingEnv();
    const second = await sendMessage(plain.env, project.projectId, text("second"));
    expect(second.accepted).toMatchObject({ status: "queued", instance_id: project.instanceId, chat_jid: CUSTOMER_JID });
    expect(plain.trips.count).toBe(2);
    expect(plain.affinity.count).toBe(0);

    const keyed = countingEnv();
    const third = await sendMessage(keyed.env, project.projectId, text("third"), "order-981");
    expect(third.replayed).toBe(false);
    expect(keyed.trips.count).toBe(2);
    expect(keyed.affinity.count).toBe(0);

    const retry = countingEnv();
    const again = await sendMessage(retry.env, project.projectId, text("third"), "order-981");
    expect(again).toEqual({ accepted: third.accepted, replayed: true });
    expect(retry.trips.count).toBe(1);

    // Addressed by its JID, the same chat costs the same.
    const byJid = countingEnv();
    const fourth = await sendMessage(byJid.env, project.projectId, sendRequest("text", { to: CUSTOMER_JID, body: "fourth", sticky: true }));
    expect(fourth.accepted).toMatchObject({ instance_id: project.instanceId, chat_jid: CUSTOMER_JID });
    expect([byJid.trips.count, byJid.affinity.count]).toEqual([2, 0]);

    // Accepted means stored and queued: each reaches the fleet, once.
    await waitFor(() => project.fleet.sends.length === 4, 3_000, "four sends");
    expect(project.fleet.sends.map((s) => s.message_id).slice(1)).toEqual([second.accepted.id, third.accepted.id, fourth.accepted.id]);
  });

  it("reads batched together are still checked in order: a retry answers its first result after the customer opted out, a new request is refused", async () => {
    const project = await crmProject();
    const first = await call("/messages/text", { method: "POST", token: project.key, body: { to: CUSTOMER, body: "Oi" }, headers: { "Idempotency-Key": "k-1" } });
    expect(first.status).toBe(202);
    expect((await api(project.key, "POST", "/suppressions", { phone: CUSTOMER, reason: "optout" })).status).toBe(201);

    const retry = await call("/messages/text", { method: "POST", token: project.key, body: { to: CUSTOMER, body: "Oi" }, headers: { "Idempotency-Key": "k-1" } });
    expect(retry.status).toBe(202);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retry.json.id).toBe(first.json.id);

    const other = await call("/messages/text", { method: "POST", token: project.key, body: { to: CUSTOMER, body: "Oi" }, headers: { "Idempotency-Key": "k-2" } });
    expect(other.status).toBe(422);
    expect(other.json.error).toMatchObject({ code: "recipient_opted_out", details: { field: "to" } });
    // A key used for another request is still refused before anything else is looked at.
    const reused = await call("/messages/text", { method: "POST", token: project.key, body: { to: CUSTOMER, body: "Hello" }, headers: { "Idempotency-Key": "k-1" } });
    expect(reused.status).toBe(422);
    expect(reused.json.error.code).toBe("idempotency_key_reused");
  });

  it("a send to a JID follows the customer to the number they last wrote to (the sticky number is read in the accept's batch)", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const [a, b] = [await newInstance(key, "a"), await newInstance(key, "b")];
    const fleets = {
      [a.id]: await connectedFleet(a.id, { jid: "5511900000001:1@s.whatsapp.net" }),
      [b.id]: await connectedFleet(b.id, { jid: "5511900000002:1@s.whatsapp.net" }),
    };
    const viaOf = async () => (await call("/messages/text", { method: "POST", token: key, body: { to: CUSTOMER_JID, body: "Oi" } })).json.instance_id as string;
    const first = await viaOf();
    expect(await viaOf()).toBe(first);
    const other = first === a.id ? b.id : a.id;
    await deliver(fleets[other]!.socket, inboundMessage(CUSTOMER_JID));
    expect(await viaOf()).toBe(other);
    await deliver(fleets[first]!.socket, inboundMessage(CUSTOMER_JID));
    expect(await viaOf()).toBe(first);
  });

  it("a chat stuck to a number before chat_numbers existed (in its legacy object) keeps that number; its object is asked once", async () => {
    const { api_key: key, id: projectId } = await newProject();
    await noPacing(key);
    const [a, b] = [await newInstance(key, "a"), await newInstance(key, "b")];
    await connectedFleet(a.id, { jid: "5511900000001:1@s.whatsapp.net" });
    await connectedFleet(b.id, { jid: "5511900000002:1@s.whatsapp.net" });
    // As an older deployment left it: a project the migration found, the number only in the chat's ContactAffinity object.
    await env.DB.prepare("UPDATE projects SET legacy_chat_numbers = 1 WHERE id = ?").bind(projectId).run();
    await affinityOf(env, projectId, CUSTOMER_JID).set(b.id);
    const request = () => sendRequest("text", { to: CUSTOMER_JID, body: "Oi", sticky: true });

    const first = countingEnv();
    expect((await sendMessage(first.env, projectId, request())).accepted.instance_id).toBe(b.id);
    expect(first.affinity.count).toBe(1);
    const row = await env.DB.prepare("SELECT instance_id FROM chat_numbers WHERE project_id = ? AND chat_jid = ?").bind(projectId, CUSTOMER_JID).first();
    expect(row).toEqual({ instance_id: b.id });

    const then = countingEnv();
    expect((await sendMessage(then.env, projectId, request())).accepted.instance_id).toBe(b.id);
    expect(then.affinity.count).toBe(0);
  });

  it("a project created since chat_numbers: the first send to each chat asks no legacy object, and the chat sticks to its number", async () => {
    const { api_key: key, id: projectId } = await newProject();
    await noPacing(key);
    const a = await newInstance(key, "a");
    await connectedFleet(a.id, { jid: "5511900000001:1@s.whatsapp.net" });
    const request = (to: string) => sendRequest("text", { to, body: "Oi", sticky: true });

    for (const chat of ["5511988887701@s.whatsapp.net", "5511988887702@s.whatsapp.net"]) {
      const first = countingEnv();
      expect((await sendMessage(first.env, projectId, request(chat))).accepted.instance_id).toBe(a.id);
      expect(first.affinity.count).toBe(0);
      const row = await env.DB.prepare("SELECT instance_id FROM chat_numbers WHERE project_id = ? AND chat_jid = ?").bind(projectId, chat).first();
      expect(row).toEqual({ instance_id: a.id });
    }
  });
});

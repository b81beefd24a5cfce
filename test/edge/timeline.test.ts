/**
 * A contact's timeline (reference 001): their messages and what happened to
 * them, newest first, paged by cursor; internal notes. Real D1 and Durable
 * Objects behind the API; the fleet is the test's WebSocket.
 */
import { describe, expect, it } from "vitest";
import { CUSTOMER, CUSTOMER_JID, api, crmProject, customerWrites, sendText, timelineOf } from "./crm-fixtures.ts";
import { deliver, inboundMessage, messageOf, newInstance, newProject, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

/** Entries are ordered by their time to the millisecond: let the clock move between steps. */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe("GET /contacts/{id}/history", () => {
  it("merges messages and events, newest first, in reference 001's shape", async () => {
    const project = await crmProject();
    const { key, fleet, instanceId } = project;
    const { contactId, messageId: hi } = await customerWrites(project, CUSTOMER_JID, { body: "hi" });
    await tick();
    await api(key, "POST", `/contacts/${contactId}/tags`, { add: ["hot-lead"] });
    await tick();
    await api(key, "POST", `/contacts/${contactId}/notes`, { body: "Asked for a follow-up on Friday." });
    await tick();
    const sent = await sendText(key, { to: CUSTOMER_JID, body: "Olá!", reference: "crm-1" });
    await waitFor(async () => (await messageOf(key, sent.json.id)).status === "sent", 3_000, "sent");
    await tick();
    // Someone answers on the number's own phone app.
    const phoneApp = await deliver(fleet.socket, inboundMessage(CUSTOMER_JID, { from_me: true, body: "from the phone", push_name: null }));

    const res = await api(key, "GET", `/contacts/${contactId}/history`);
    expect(res.status).toBe(200);
    expect(res.json.next_cursor).toBeNull();
    const data = res.json.data;
    expect(data.map((e: any) => [e.kind, e.type, e.actor])).toEqual([
      ["message", "text", "phone"],
      ["message", "text", "api"],
      ["event", "note", "api"],
      ["event", "tag_added", "api"],
      ["message", "text", "contact"],
    ]);
    expect(data[0]).toMatchObject({ id: phoneApp.message_id, direction: "outbound", status: "sent", payload: { body: "from the phone" } });
    expect(data[1]).toEqual({
      id: sent.json.id,
      kind: "message",
      type: "text",
      direction: "outbound",
      status: "sent",
      actor: "api",
      payload: { body: "Olá!", to: CUSTOMER_JID, instance_id: instanceId, reference: "crm-1" },
      created_at: expect.any(String),
    });
    expect(data[2]).toEqual({
      id: expect.any(String),
      kind: "event",
      type: "note",
      actor: "api",
      payload: { body: "Asked for a follow-up on Friday." },
      created_at: expect.any(String),
    });
    expect(data[3]).toMatchObject({ kind: "event", type: "tag_added", payload: { tag: "hot-lead" } });
    expect(data[3]).not.toHaveProperty("direction");
    expect(data[4]).toMatchObject({
      id: hi,
      kind: "message",
      direction: "inbound",
      status: "received",
      actor: "contact",
      payload: { body: "hi", from: CUSTOMER_JID, instance_id: instanceId },
    });
    const times = data.map((e: any) => e.created_at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it("pages by cursor through messages and events with no gap and no repeat", async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    for (let i = 0; i < 3; i++) {
      await api(key, "POST", `/contacts/${contactId}/notes`, { body: `note ${i}` });
      await customerWrites(project, CUSTOMER_JID, { body: `message ${i}` });
    }
    await api(key, "POST", `/contacts/${contactId}/groups`, { add: ["a", "b"] });
    const whole = await timelineOf(key, contactId);
    expect(whole).toHaveLength(9);

    const walked: any[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const page: any = (await api(key, "GET", `/contacts/${contactId}/history${query}`)).json;
      expect(page.data.length).toBeLessThanOrEqual(2);
      walked.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    expect(walked.map((e) => e.id)).toEqual(whole.map((e) => e.id));
  });

  it("shows a send still queued to a contact that has no conversation yet", async () => {
    const { api_key: key } = await newProject();
    const instance = await newInstance(key);
    // No fleet runs the number: the message waits, and its tags made the contact.
    const res = await sendText(key, { to: CUSTOMER_JID, instance_id: instance.id, body: "waiting", tags: ["lead"] });
    expect(res.status).toBe(202);
    const tagged = (await api(key, "GET", "/tags")).json.data[0];
    expect(tagged).toMatchObject({ key: "lead", count: 1 });
    // The message names no contact until it is sent; the contact is found by its tag.
    const [contact] = (await api(key, "GET", "/contacts?tags=lead")).json.data;
    expect(contact).toMatchObject({ phone: CUSTOMER, source: "outbound", tags: ["lead"] });
    const contactId = contact.id;
    const data = await timelineOf(key, contactId);
    expect(data.map((e) => [e.kind, e.type, e.status ?? null])).toEqual([
      ["message", "text", "queued"],
      ["event", "tag_added", null],
    ]);
    expect(data[0].payload).toMatchObject({ body: "waiting", to: CUSTOMER_JID });
  });

  it("answers 404 for an unknown contact or another project's, 400 for a bad cursor or limit", async () => {
    const project = await crmProject();
    const other = await newProject("other");
    const { contactId } = await customerWrites(project);
    expect((await api(other.api_key, "GET", `/contacts/${contactId}/history`)).status).toBe(404);
    expect((await api(project.key, "GET", "/contacts/nobody/history")).status).toBe(404);
    const badCursor = await api(project.key, "GET", `/contacts/${contactId}/history?cursor=nonsense`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.json.error.details.field).toBe("cursor");
    const badLimit = await api(project.key, "GET", `/contacts/${contactId}/history?limit=0`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.json.error.details.field).toBe("limit");
  });
});

describe("POST /contacts/{id}/notes", () => {
  it("adds an internal note to the timeline (201), never sent to the contact", async () => {
    const project = await crmProject();
    const { key, fleet } = project;
    const { contactId } = await customerWrites(project);
    const res = await api(key, "POST", `/contacts/${contactId}/notes`, { body: "  VIP: call before noon  " });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(String),
      kind: "event",
      type: "note",
      actor: "api",
      payload: { body: "VIP: call before noon" },
      created_at: expect.any(String),
    });
    expect((await timelineOf(key, contactId))[0]).toEqual(res.json);
    expect((await api(key, "POST", `/contacts/${contactId}/notes`, { body: "x".repeat(10_000) })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 200));
    expect(fleet.sends).toHaveLength(0);
  });

  it("refuses an empty or too long note (400 naming body) and unknown contacts (404)", async () => {
    const project = await crmProject();
    const { contactId } = await customerWrites(project);
    for (const body of ["", "   ", "x".repeat(10_001)]) {
      const res = await api(project.key, "POST", `/contacts/${contactId}/notes`, { body });
      expect(res.status).toBe(400);
      expect(res.json.error.details.field).toBe("body");
    }
    expect((await api(project.key, "POST", `/contacts/${contactId}/notes`, {})).status).toBe(400);
    expect((await api(project.key, "POST", "/contacts/nobody/notes", { body: "hi" })).status).toBe(404);
    expect(await timelineOf(project.key, contactId)).toHaveLength(1);
  });
});

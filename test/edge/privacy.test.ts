/**
 * Privacy (reference 001, LGPD): a contact's opt-out, block and opt-in, the
 * project's suppression list, keyword opt-out from a received message, and
 * sends to anyone on the list refused before anything is queued. Real D1 and
 * Durable Objects; the fleet is the test's WebSocket, which records every
 * send and every phone lookup the edge makes.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { assertSendable } from "../../edge/services/privacy.ts";
import { CUSTOMER, CUSTOMER_8, CUSTOMER_JID, type CrmProject, api, crmProject, customerWrites, sendText, timelineOf } from "./crm-fixtures.ts";
import { countingEnv, deliver, inboundMessage, newProject, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const events = async (key: string, contactId: string) => (await timelineOf(key, contactId)).filter((e) => e.kind === "event");
const suppressions = async (key: string) => (await api(key, "GET", "/suppressions")).json;

/** Every way a client may name the customer: both Brazilian forms, formatted, and the JID. */
const EVERY_FORM = [CUSTOMER, CUSTOMER_8, "+55 (11) 98888-7777", "0055 11 8888-7777", CUSTOMER_JID, "5511988887777:3@s.whatsapp.net"];

/** Each form is refused with this code, naming `to`, and nothing reaches the fleet or WhatsApp's lookup. */
async function refusedEverywhere(project: CrmProject, code: string) {
  const lookups = project.fleet.lookups.length;
  for (const to of EVERY_FORM) {
    const res = await sendText(project.key, { to, body: "promo" });
    expect(res.status, to).toBe(422);
    expect(res.json.error, to).toMatchObject({ code, details: { field: "to" } });
  }
  // A different customer still gets through: the refusal is about them, not the project.
  expect((await sendText(project.key, { to: "+5511977776666" })).status).toBe(202);
  await waitFor(() => project.fleet.sends.length > 0, 3_000, "the other customer's send");
  expect(project.fleet.sends.every((s) => s.chat_jid !== CUSTOMER_JID)).toBe(true);
  // Only the other customer's number was looked up.
  expect(project.fleet.lookups.slice(lookups).flat().every((p) => !p.includes("88887777"))).toBe(true);
}

describe("a contact's privacy actions", () => {
  it("optout: opted_out with opted_out_at, on the suppression list, in the timeline; sends to any form are refused", async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    const res = await api(key, "POST", `/contacts/${contactId}/optout`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: contactId, phone: CUSTOMER, status: "opted_out", opted_out_at: expect.any(String) });
    expect((await suppressions(key)).data).toEqual([{ phone: CUSTOMER, reason: "optout", note: null, source: "api", created_at: expect.any(String) }]);
    const seen = (await events(key, contactId)).map((e) => [e.type, e.actor, e.payload]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["opted_out", "api", { reason: "optout", source: "api" }],
        ["status_changed", "api", { from: "active", to: "opted_out" }],
      ]),
    );
    expect(seen).toHaveLength(2);
    await refusedEverywhere(project, "recipient_opted_out");

    // Again: nothing changes, nothing more is recorded, the first opt-out time stays.
    const again = await api(key, "POST", `/contacts/${contactId}/optout`);
    expect(again.json.opted_out_at).toBe(res.json.opted_out_at);
    expect(await events(key, contactId)).toHaveLength(2);
  });

  it("suppress: blocked and listed (manual); sends are refused as recipient_suppressed, not recipient_blocked (WhatsApp's block)", async () => {
    const project = await crmProject();
    const { contactId } = await customerWrites(project);
    const res = await api(project.key, "POST", `/contacts/${contactId}/suppress`);
    expect(res.json).toMatchObject({ status: "blocked", opted_out_at: null });
    expect((await suppressions(project.key)).data).toEqual([expect.objectContaining({ phone: CUSTOMER, reason: "manual", source: "api" })]);
    expect((await events(project.key, contactId)).map((e) => e.type).sort()).toEqual(["status_changed", "suppressed"]);
    await refusedEverywhere(project, "recipient_suppressed");
  });

  it("suppress on a contact known only by LID (nothing to list): sends to the LID are refused as recipient_suppressed", async () => {
    const project = await crmProject();
    const lid = "323456789012345@lid";
    const { contactId } = await customerWrites(project, lid, { body: "oi" });
    expect((await api(project.key, "POST", `/contacts/${contactId}/suppress`)).json).toMatchObject({ phone: null, status: "blocked" });
    expect((await suppressions(project.key)).total).toBe(0);
    const res = await sendText(project.key, { to: lid });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatchObject({ code: "recipient_suppressed", details: { field: "to" } });
  });

  it("optout and suppress keep the reason given in the body: as the entry's note in GET /suppressions and on the timeline event; a new reason replaces it", async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    const out = await api(key, "POST", `/contacts/${contactId}/optout`, { reason: "  asked to stop by email  " });
    expect(out.status).toBe(200);
    expect((await suppressions(key)).data).toEqual([expect.objectContaining({ phone: CUSTOMER, reason: "optout", note: "asked to stop by email" })]);
    expect((await events(key, contactId)).find((e) => e.type === "opted_out")?.payload).toEqual({ reason: "optout", source: "api", note: "asked to stop by email" });

    // The same decision with new words: recorded again, the entry takes them.
    await api(key, "POST", `/contacts/${contactId}/optout`, { reason: "confirmed on the phone" });
    expect((await suppressions(key)).data[0].note).toBe("confirmed on the phone");
    expect((await events(key, contactId)).filter((e) => e.type === "opted_out").map((e) => e.payload.note)).toEqual(["confirmed on the phone", "asked to stop by email"]);

    await api(key, "POST", `/contacts/${contactId}/optin`);
    const blocked = await api(key, "POST", `/contacts/${contactId}/suppress`, { reason: "abusive replies" });
    expect(blocked.json.status).toBe("blocked");
    expect((await suppressions(key)).data).toEqual([expect.objectContaining({ reason: "manual", note: "abusive replies" })]);
    expect((await events(key, contactId)).find((e) => e.type === "suppressed")?.payload).toEqual({ reason: "manual", source: "api", note: "abusive replies" });

    // The list itself takes a note too.
    const listed = await api(key, "POST", "/suppressions", { phone: "+14155550123", reason: "bounce", note: "hard bounce from carrier" });
    expect(listed.json).toMatchObject({ phone: "+14155550123", reason: "bounce", note: "hard bounce from carrier" });

    for (const body of [{ reason: "" }, { reason: "x".repeat(501) }, { reason: 7 }, { why: "x" }]) {
      const bad = await api(key, "POST", `/contacts/${contactId}/suppress`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api(key, "POST", `/contacts/${contactId}/suppress`, { reason: 7 })).json.error.details.field).toBe("reason");
  });

  it("optin: off the list, active again, in the timeline; the next send goes out", async () => {
    const project = await crmProject();
    const { key, fleet } = project;
    const { contactId } = await customerWrites(project);
    await api(key, "POST", `/contacts/${contactId}/optout`);
    expect((await sendText(key, { to: CUSTOMER })).status).toBe(422);

    const res = await api(key, "POST", `/contacts/${contactId}/optin`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: "active", opted_out_at: null });
    expect((await suppressions(key)).total).toBe(0);
    const latest = (await events(key, contactId)).filter((e) => e.type === "opted_in" || e.payload.to === "active");
    expect(latest.map((e) => [e.type, e.payload])).toEqual(
      expect.arrayContaining([
        ["opted_in", {}],
        ["status_changed", { from: "opted_out", to: "active" }],
      ]),
    );
    const sent = await sendText(key, { to: CUSTOMER_8, body: "welcome back" });
    expect(sent.status).toBe(202);
    await waitFor(() => fleet.sends.some((s) => s.content.text === "welcome back"), 3_000, "sent");
  });

  it("answers 404 for unknown contacts and another project's", async () => {
    const project = await crmProject();
    const other = await newProject("other");
    const { contactId } = await customerWrites(project);
    for (const action of ["optout", "suppress", "optin"]) {
      expect((await api(other.api_key, "POST", `/contacts/${contactId}/${action}`)).status).toBe(404);
      expect((await api(project.key, "POST", `/contacts/nobody/${action}`)).status).toBe(404);
    }
    expect((await suppressions(project.key)).total).toBe(0);
  });
});

describe("the suppression list", () => {
  it("adds a number in any format as +<digits>; refuses sends to it before WhatsApp is asked; lists newest first", async () => {
    const project = await crmProject();
    const { key } = project;
    const add = await api(key, "POST", "/suppressions", { phone: "+55 (11) 98888-7777", reason: "manual" });
    expect(add.status).toBe(201);
    expect(add.json).toEqual({ phone: CUSTOMER, reason: "manual", note: null, source: "api", created_at: expect.any(String) });
    await refusedEverywhere(project, "recipient_suppressed");

    // Listed again under the other form: the same entry, new reason.
    const again = await api(key, "POST", "/suppressions", { phone: CUSTOMER_8, reason: "bounce" });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ phone: CUSTOMER, reason: "bounce" });
    await api(key, "POST", "/suppressions", { phone: "+14155550123" });
    const list = await suppressions(key);
    expect(list).toMatchObject({ total: 2, limit: 200, offset: 0 });
    expect(list.data.map((e: { phone: string; reason: string }) => [e.phone, e.reason])).toEqual([
      ["+14155550123", "manual"],
      [CUSTOMER, "bounce"],
    ]);
    expect((await api(key, "GET", "/suppressions?limit=1&offset=1")).json.data).toEqual([expect.objectContaining({ phone: CUSTOMER })]);
  });

  it("refuses bad input naming the field", async () => {
    const { api_key: key } = await newProject();
    for (const phone of ["not a phone", "123", "+55 11 9"]) {
      const res = await api(key, "POST", "/suppressions", { phone });
      expect(res.status, phone).toBe(400);
      expect(res.json.error.details.field).toBe("phone");
    }
    const reason = await api(key, "POST", "/suppressions", { phone: CUSTOMER, reason: "Not A Reason!" });
    expect(reason.json.error.details.field).toBe("reason");
    expect((await api(key, "DELETE", "/suppressions?phone=abc")).json.error.details.field).toBe("phone");
    expect((await api(key, "DELETE", "/suppressions")).json.error.details.field).toBe("phone");
    expect((await api(key, "GET", "/suppressions?limit=501")).json.error.details.field).toBe("limit");
  });

  it("removes a number by either 9th-digit form (204, then 404), and sends go out again", async () => {
    const project = await crmProject();
    const { key, fleet } = project;
    await api(key, "POST", "/suppressions", { phone: CUSTOMER });
    const removed = await api(key, "DELETE", `/suppressions?phone=${encodeURIComponent(CUSTOMER_8)}`);
    expect(removed.status).toBe(204);
    expect((await suppressions(key)).total).toBe(0);
    expect((await api(key, "DELETE", `/suppressions?phone=${encodeURIComponent(CUSTOMER)}`)).status).toBe(404);
    expect((await sendText(key, { to: CUSTOMER, body: "allowed" })).status).toBe(202);
    await waitFor(() => fleet.sends.some((s) => s.content.text === "allowed"), 3_000, "sent");
  });

  it("moves the number's contact with it: optout -> opted_out, bounce -> unreachable; removing reactivates", async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    await api(key, "POST", "/suppressions", { phone: CUSTOMER_8, reason: "optout" });
    const status = async () => (await api(key, "POST", `/contacts/${contactId}/tags`, {})).json;
    expect(await status()).toMatchObject({ status: "opted_out", opted_out_at: expect.any(String) });
    // The entry keeps the contact's form of the number.
    expect((await suppressions(key)).data[0].phone).toBe(CUSTOMER);
    await api(key, "POST", "/suppressions", { phone: CUSTOMER, reason: "bounce" });
    expect((await status()).status).toBe("unreachable");
    await api(key, "DELETE", `/suppressions?phone=${encodeURIComponent(CUSTOMER)}`);
    expect(await status()).toMatchObject({ status: "active", opted_out_at: null });
    expect((await events(key, contactId)).map((e) => e.payload.to).filter(Boolean)).toEqual(["active", "unreachable", "opted_out"]);
  });

  it("a project never sees another's list, and another's list refuses nothing of its own", async () => {
    const a = await crmProject("a");
    const b = await crmProject("b");
    await api(a.key, "POST", "/suppressions", { phone: CUSTOMER });
    expect((await suppressions(b.key))).toMatchObject({ data: [], total: 0 });
    expect((await api(b.key, "DELETE", `/suppressions?phone=${encodeURIComponent(CUSTOMER)}`)).status).toBe(404);
    expect((await sendText(b.key, { to: CUSTOMER })).status).toBe(202);
    expect((await sendText(a.key, { to: CUSTOMER })).status).toBe(422);
    expect((await suppressions(a.key)).total).toBe(1);
  });
});

describe("keyword opt-out", () => {
  it("a received text that is only STOP (any case, spaces, accents) opts its contact out, by the contact", async () => {
    for (const word of ["STOP", "  sair ", "Cancelár", "unsubscribe\n"]) {
      const project = await crmProject();
      const { key } = project;
      const { contactId, messageId } = await customerWrites(project, CUSTOMER_JID, { body: word });
      const entries = await suppressions(key);
      expect(entries.data, word).toEqual([{ phone: CUSTOMER, reason: "optout", note: null, source: "contact", created_at: expect.any(String) }]);
      const optedOut = (await events(key, contactId)).find((e) => e.type === "opted_out");
      expect(optedOut).toMatchObject({ actor: "contact", payload: { reason: "optout", source: "contact", keyword: word.trim(), message_id: messageId } });
      expect((await api(key, "POST", `/contacts/${contactId}/tags`, {})).json.status).toBe("opted_out");
      // The message itself is in the timeline, as received.
      expect((await timelineOf(key, contactId)).some((e) => e.kind === "message" && e.id === messageId)).toBe(true);
      expect((await sendText(key, { to: CUSTOMER })).json.error.code).toBe("recipient_opted_out");
    }
  });

  it("leaves alone texts that only contain the word, our own phone-app messages, group messages and other types", async () => {
    const project = await crmProject();
    const { key, fleet } = project;
    const { contactId } = await customerWrites(project, CUSTOMER_JID, { body: "please stop sending promos" });
    await deliver(fleet.socket, inboundMessage(CUSTOMER_JID, { from_me: true, body: "STOP", push_name: null }));
    await deliver(fleet.socket, inboundMessage("120363000000000001@g.us", { sender_jid: CUSTOMER_JID, body: "stop" }));
    await deliver(fleet.socket, inboundMessage(CUSTOMER_JID, { type: "image", body: "STOP", media_error: "no_file" }));
    expect((await suppressions(key)).total).toBe(0);
    expect(await events(key, contactId)).toEqual([]);
    expect((await sendText(key, { to: CUSTOMER })).status).toBe(202);
  });

  it("a repeated STOP (or the fleet resending it) records one opt-out", async () => {
    const project = await crmProject();
    const message = inboundMessage(CUSTOMER_JID, { body: "stop" });
    await deliver(project.fleet.socket, message);
    await deliver(project.fleet.socket, message);
    const { contactId } = await customerWrites(project, CUSTOMER_JID, { body: "STOP" });
    expect((await events(project.key, contactId)).map((e) => e.type).sort()).toEqual(["opted_out", "status_changed"]);
  });

  it("a STOP the fleet resends after the client opted the customer back in does not opt them out again", async () => {
    const project = await crmProject();
    const message = inboundMessage(CUSTOMER_JID, { body: "stop" });
    await deliver(project.fleet.socket, message);
    const { contactId } = await customerWrites(project, CUSTOMER_JID, { body: "oi de novo" });
    expect((await api(project.key, "POST", `/contacts/${contactId}/optin`)).status).toBe(200);
    // The same WhatsApp message again, as a fleet that lost the answer resends it.
    await deliver(project.fleet.socket, message);
    expect((await api(project.key, "POST", `/contacts/${contactId}/tags`, {})).json.status).toBe("active");
    expect((await suppressions(project.key)).total).toBe(0);
    expect((await events(project.key, contactId)).filter((e) => e.type === "opted_out")).toHaveLength(1);
    expect((await sendText(project.key, { to: CUSTOMER })).status).toBe(202);
  });

  it("uses the project's own optout_keywords: the defaults then no longer apply, and [] turns it off", async () => {
    const project = await crmProject();
    const { key } = project;
    const settings = await api(key, "PATCH", "/settings", { optout_keywords: ["BASTA", "Não quero"] });
    expect(settings.status).toBe(200);
    expect(settings.json.optout_keywords).toEqual(["BASTA", "Não quero"]);
    await customerWrites(project, CUSTOMER_JID, { body: "STOP" });
    expect((await suppressions(key)).total).toBe(0);
    await customerWrites(project, CUSTOMER_JID, { body: "nao QUERO" });
    expect((await suppressions(key)).total).toBe(1);

    const off = await crmProject("off");
    await api(off.key, "PATCH", "/settings", { optout_keywords: [] });
    await customerWrites(off, CUSTOMER_JID, { body: "STOP" });
    expect((await suppressions(off.key)).total).toBe(0);
    const bad = await api(key, "PATCH", "/settings", { optout_keywords: [""] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("optout_keywords.0");
  });

  it("a contact known only by LID opts out by keyword: sends to that LID are refused", async () => {
    const project = await crmProject();
    const lid = "123456789012345@lid";
    const { contactId } = await customerWrites(project, lid, { body: "PARAR" });
    expect((await api(project.key, "POST", `/contacts/${contactId}/tags`, {})).json).toMatchObject({ phone: null, lid, status: "opted_out" });
    // No phone to list: the contact's status holds the opt-out.
    expect((await suppressions(project.key)).total).toBe(0);
    const res = await sendText(project.key, { to: lid });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("recipient_opted_out");
  });

  it("an opt-out made under a LID survives the merge into the phone's contact: sends to the phone are refused", async () => {
    const project = await crmProject();
    const lid = "223456789012345@lid";
    const byPhone = await customerWrites(project, CUSTOMER_JID, { body: "oi" });
    await customerWrites(project, lid, { body: "SAIR" });
    project.fleet.socket.event("lid.mappings", { mappings: [{ lid, pn: CUSTOMER_JID }] });
    await waitFor(async () => (await api(project.key, "GET", `/contacts/${byPhone.contactId}`)).json.lid === lid, 3_000, "the merge");
    expect((await api(project.key, "GET", `/contacts/${byPhone.contactId}`)).json).toMatchObject({ status: "opted_out", lid });
    expect((await suppressions(project.key)).data).toMatchObject([{ phone: CUSTOMER, reason: "optout", source: "system" }]);
    const res = await sendText(project.key, { to: CUSTOMER_8 });
    expect(res.status).toBe(422);
    expect(res.json.error.details.field).toBe("to");
  });
});

describe("the cost of the check on every send", () => {
  it("checks a phone's contact and the suppression list in one D1 round trip, and still refuses a listed phone", async () => {
    const project = await crmProject();
    const counted = countingEnv();
    await assertSendable(counted.env, project.projectId, { phone: CUSTOMER });
    expect(counted.trips.count).toBe(1);

    await api(project.key, "POST", "/suppressions", { phone: CUSTOMER_8, reason: "manual" });
    const again = countingEnv();
    await expect(assertSendable(again.env, project.projectId, { phone: CUSTOMER })).rejects.toMatchObject({ code: "recipient_suppressed" });
    expect(again.trips.count).toBe(1);
  });
});

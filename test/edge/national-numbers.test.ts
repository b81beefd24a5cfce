/**
 * Phones written without their country code (issue 9, part 2): refused with
 * 400 `country_code_required` on every route that takes a phone until the
 * project sets `default_country`, then read as that country's numbers; and no
 * spelling of an opted-out or suppressed number gets a message through. Real
 * D1 and Durable Objects; the fleet is the test's WebSocket, which records
 * every send, phone lookup, block and pairing request the edge makes.
 */
import { describe, expect, it } from "vitest";
import { CUSTOMER, CUSTOMER_8, CUSTOMER_JID, type CrmProject, api, crmProject, customerWrites, sendText } from "./crm-fixtures.ts";
import { connectedFleet, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const setCountry = (key: string, country: string | null) => api(key, "PATCH", "/settings", { default_country: country });

/** The customer's number as people write it without `+`: national, trunk prefix, carrier code, country code but no `+`, old 8-digit form. */
const NATIONAL = ["(11) 98888-7777", "11988887777", "011 98888 7777", "0 21 11 98888-7777", "5511988887777", "(11) 8888-7777"];
/** ...and with its country code, or as WhatsApp names it. */
const INTERNATIONAL = [
  "+55 11 98888-7777",
  "+55 (11) 98888-7777",
  "+55 11 8888-7777",
  "0055 11 98888 7777",
  "005511988887777",
  CUSTOMER_JID,
  "551188887777@s.whatsapp.net",
  "5511988887777:7@s.whatsapp.net",
];

/** A project with a number on which WhatsApp knows the customer (both forms), blocks, and pairing codes, recording each. */
async function project() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  const asked: { method: string; params: any }[] = [];
  const fleet = await connectedFleet(instance.id, {
    onWhatsApp: { "5511988887777": CUSTOMER_JID, "551188887777": CUSTOMER_JID, "5511977776666": "5511977776666@s.whatsapp.net" },
    methods: {
      "contacts.block": (params) => (asked.push({ method: "contacts.block", params }), { jid: params.jid, blocked: params.action === "block" }),
      "instance.pairing_code": (params) => (asked.push({ method: "instance.pairing_code", params }), { code: "ABCD1234" }),
    },
  });
  return { key, id: instance.id, fleet, asked };
}

/** Every route that takes a phone, called with `phone` in the field that takes it; each answer with the field it should name. */
async function everyPhoneRoute(key: string, instanceId: string, contactId: string, phone: string) {
  const path = encodeURIComponent(phone);
  const card = { to: CUSTOMER, contact_name: "Suporte", contact_phone: phone };
  return [
    ["POST /messages/text", "to", await sendText(key, { to: phone })],
    ["POST /messages/contact", "contact_phone", await api(key, "POST", "/messages/contact", card)],
    ["POST /contacts", "phone", await api(key, "POST", "/contacts", { phone, name: "Ana" })],
    ["PATCH /contacts/{id}", "phone", await api(key, "PATCH", `/contacts/${contactId}`, { phone })],
    ["POST /suppressions", "phone", await api(key, "POST", "/suppressions", { phone })],
    ["DELETE /suppressions", "phone", await api(key, "DELETE", `/suppressions?phone=${path}`)],
    ["POST /contacts/{jid}/block", "jid", await api(key, "POST", `/contacts/${path}/block`, { instance_id: instanceId })],
    ["POST /contacts/{jid}/unblock", "jid", await api(key, "POST", `/contacts/${path}/unblock`, { instance_id: instanceId })],
    ["GET /conversations/{jid}/messages", "jid", await api(key, "GET", `/conversations/${path}/messages`)],
    ["POST /conversations/{jid}/read", "jid", await api(key, "POST", `/conversations/${path}/read`)],
    ["POST /instances/{id}/pairing-code", "phone", await api(key, "POST", `/instances/${instanceId}/pairing-code`, { phone })],
  ] as const;
}

describe("default_country", () => {
  it("is unset by default; takes an ISO 3166 code in any case; refuses other values naming the field; null unsets it", async () => {
    const { api_key: key } = await newProject();
    expect((await api(key, "GET", "/settings")).json.default_country).toBeNull();
    const set = await setCountry(key, "br");
    expect(set.status).toBe(200);
    expect(set.json.default_country).toBe("BR");
    expect((await api(key, "GET", "/settings")).json.default_country).toBe("BR");
    for (const bad of ["XX", "BRA", "", "Brazil", 55]) {
      const res = await setCountry(key, bad as string);
      expect(res.status, String(bad)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", details: { field: "default_country" } });
    }
    expect((await api(key, "GET", "/settings")).json.default_country).toBe("BR");
    expect((await setCountry(key, null)).json.default_country).toBeNull();
  });
});

describe("a number without its country code, and no default_country", () => {
  it("is refused with 400 country_code_required naming the field on every route that takes a phone; nothing reaches WhatsApp", async () => {
    const { key, id, fleet, asked } = await project();
    const contact = await api(key, "POST", "/contacts", { phone: "+5511966665555", name: "Bia" });
    for (const phone of NATIONAL) {
      for (const [route, field, res] of await everyPhoneRoute(key, id, contact.json.id, phone)) {
        expect(res.status, `${route} ${phone}`).toBe(400);
        expect(res.json.error, `${route} ${phone}`).toMatchObject({ code: "country_code_required", details: { field } });
      }
    }
    // The import reports the row and keeps the others.
    const imported = await api(key, "POST", "/contacts/import", { contacts: [{ phone: "(11) 98888-7777" }, { phone: "+5511955554444" }] });
    expect(imported.json).toEqual({
      created: 1,
      updated: 0,
      skipped: 0,
      errors: [{ row: 1, field: "phone", code: "country_code_required", message: expect.stringContaining("default_country") }],
    });
    expect(fleet.sends).toEqual([]);
    expect(fleet.lookups).toEqual([]);
    expect(asked).toEqual([]);
    expect((await api(key, "GET", "/suppressions")).json.total).toBe(0);
    expect((await api(key, "GET", "/contacts")).json.data.map((c: { phone: string }) => c.phone).sort()).toEqual(["+5511955554444", "+5511966665555"]);
  });

  it("numbers with their country code and JIDs still go; a + number that is no number stays 400 invalid_request", async () => {
    const { key, id, fleet } = await project();
    for (const to of INTERNATIONAL) {
      const res = await sendText(key, { to, body: to });
      expect(res.status, to).toBe(202);
      // A JID is already canonical: it goes as given, device part dropped.
      expect(res.json.chat_jid, to).toBe(to.includes("@") ? to.replace(/:\d+@/, "@") : CUSTOMER_JID);
    }
    for (const to of ["120363000000000001@g.us", "123456789012345@lid"]) expect((await sendText(key, { to, instance_id: id })).status, to).toBe(202);
    await waitFor(() => fleet.sends.length === INTERNATIONAL.length + 2, 5_000, "every send");
    for (const to of ["+55 11 9", "+999 1234 5678", "0055"]) {
      const res = await sendText(key, { to });
      expect(res.json.error, to).toMatchObject({ code: "invalid_request", details: { field: "to" } });
    }
  });
});

describe("a number without its country code, with default_country BR", () => {
  it("is the Brazilian number on every route that takes a phone", async () => {
    const { key, id, fleet, asked } = await project();
    await setCountry(key, "BR");
    const bia = await api(key, "POST", "/contacts", { phone: "011 96666 5555", name: "Bia" });
    expect(bia.json.phone).toBe("+5511966665555");
    const patched = await api(key, "PATCH", `/contacts/${bia.json.id}`, { phone: "(21) 99999-0000" });
    expect(patched.json.phone).toBe("+5521999990000");

    const sent = await sendText(key, { to: "(11) 98888-7777", body: "Oi" });
    expect(sent.status).toBe(202);
    expect(sent.json.chat_jid).toBe(CUSTOMER_JID);
    expect(fleet.lookups.at(-1)).toEqual(["5511988887777", "551188887777"]);
    // The card's number is the Brazilian account too.
    const card = await api(key, "POST", "/messages/contact", { to: CUSTOMER_JID, contact_name: "Suporte", contact_phone: "(11) 97777-6666" });
    expect(card.status).toBe(202);
    await waitFor(() => fleet.sends.length === 2, 3_000, "both sent");
    expect(fleet.sends[1]!.content.vcard).toContain("waid=5511977776666:+5511977776666");

    const imported = await api(key, "POST", "/contacts/import", { contacts: [{ phone: "(11) 95555-4444" }, { phone: "5511944443333" }] });
    expect(imported.json).toMatchObject({ created: 2, errors: [] });
    const phones = (await api(key, "GET", "/contacts")).json.data.map((c: { phone: string }) => c.phone);
    expect(phones).toEqual(expect.arrayContaining(["+5511955554444", "+5511944443333"]));

    const listed = await api(key, "POST", "/suppressions", { phone: "(31) 98888-1111" });
    expect(listed.json.phone).toBe("+5531988881111");
    expect((await api(key, "DELETE", `/suppressions?phone=${encodeURIComponent("031 98888 1111")}`)).status).toBe(204);

    expect((await api(key, "POST", `/contacts/${encodeURIComponent("(11) 98888-7777")}/block`, { instance_id: id })).json).toMatchObject({ jid: CUSTOMER_JID, blocked: true });
    expect((await api(key, "POST", `/instances/${id}/pairing-code`, { phone: "(11) 91234-5678" })).json).toEqual({ code: "ABCD1234" });
    expect(asked).toEqual([
      { method: "contacts.block", params: { jid: CUSTOMER_JID, action: "block" } },
      { method: "instance.pairing_code", params: { phone: "5511912345678" } },
    ]);
    // The conversation the send started is found by the national number.
    await waitFor(async () => (await api(key, "GET", `/conversations/${encodeURIComponent("(11) 98888-7777")}/messages`)).status === 200, 3_000, "the conversation");
  });

  it("keeps + numbers international, and refuses a national number that does not fit Brazil's plan instead of guessing", async () => {
    const { key } = await project();
    await setCountry(key, "BR");
    expect((await api(key, "POST", "/contacts", { phone: "+1 415 555 2671" })).json.phone).toBe("+14155552671");
    // A number in no Brazilian range, and a Brazilian one without its area code.
    for (const to of ["(11) 1234-5678", "98888-7777"]) {
      const res = await sendText(key, { to });
      expect(res.status, to).toBe(400);
      expect(res.json.error, to).toMatchObject({ code: "invalid_request", details: { field: "to" } });
    }
  });
});

describe("no spelling of a refused number gets through", () => {
  /**
   * With default_country BR every spelling is refused with one of `codes`;
   * without it, the national ones need their country code and the others are
   * still refused. Nothing reaches the fleet, not even a lookup.
   */
  async function refusedInEverySpelling(project: CrmProject, codes: string[]) {
    const { key, fleet } = project;
    const lookups = fleet.lookups.length;
    await setCountry(key, "BR");
    for (const to of [...NATIONAL, ...INTERNATIONAL]) {
      const res = await sendText(key, { to, body: "promo" });
      expect(res.status, to).toBe(422);
      expect(codes, to).toContain(res.json.error.code);
      expect(res.json.error.details, to).toEqual({ field: "to" });
    }
    await setCountry(key, null);
    for (const to of NATIONAL) expect((await sendText(key, { to })).json.error.code, to).toBe("country_code_required");
    for (const to of INTERNATIONAL) expect(codes, to).toContain((await sendText(key, { to })).json.error.code);
    // Someone else still gets through, so the refusals were about this person.
    expect((await sendText(key, { to: "+5511977776666", body: "other" })).status).toBe(202);
    await waitFor(() => fleet.sends.length > 0, 3_000, "the other customer's send");
    expect(fleet.sends.map((s) => s.chat_jid)).toEqual(["5511977776666@s.whatsapp.net"]);
    expect(fleet.lookups.slice(lookups).flat().every((p) => !p.includes("88887777"))).toBe(true);
  }

  const listed = async (key: string) => (await api(key, "GET", "/suppressions")).json.data.map((e: { phone: string; reason: string }) => [e.phone, e.reason]);

  it("a contact opted out (POST /contacts/{id}/optout): recipient_opted_out", async () => {
    const project = await crmProject();
    const { contactId } = await customerWrites(project);
    expect((await api(project.key, "POST", `/contacts/${contactId}/optout`)).status).toBe(200);
    await refusedInEverySpelling(project, ["recipient_opted_out"]);
  });

  it("a contact suppressed (POST /contacts/{id}/suppress): refused, and on the suppression list", async () => {
    const project = await crmProject();
    const { contactId } = await customerWrites(project);
    expect((await api(project.key, "POST", `/contacts/${contactId}/suppress`)).status).toBe(200);
    expect(await listed(project.key)).toEqual([[CUSTOMER, "manual"]]);
    // (Whether a suppressed contact answers recipient_blocked or recipient_suppressed is another fix's.)
    await refusedInEverySpelling(project, ["recipient_suppressed", "recipient_blocked"]);
  });

  it("a number put on the suppression list in its national 8-digit spelling: recipient_suppressed", async () => {
    const project = await crmProject();
    await setCountry(project.key, "BR");
    expect((await api(project.key, "POST", "/suppressions", { phone: "(11) 8888-7777", reason: "manual" })).status).toBe(201);
    expect(await listed(project.key)).toEqual([[CUSTOMER_8, "manual"]]);
    await refusedInEverySpelling(project, ["recipient_suppressed"]);
  });

  it("an opt-out on the suppression list, given with trunk prefix: recipient_opted_out", async () => {
    const project = await crmProject();
    await setCountry(project.key, "BR");
    await api(project.key, "POST", "/suppressions", { phone: "011 98888 7777", reason: "optout" });
    expect(await listed(project.key)).toEqual([[CUSTOMER, "optout"]]);
    await refusedInEverySpelling(project, ["recipient_opted_out"]);
  });

  it("a contact created under one spelling and opted out is refused under every other", async () => {
    const project = await crmProject();
    await setCountry(project.key, "BR");
    const contact = await api(project.key, "POST", "/contacts", { phone: "(11) 8888-7777", name: "Maria" });
    expect(contact.json.phone).toBe(CUSTOMER_8);
    await api(project.key, "POST", `/contacts/${contact.json.id}/optout`);
    await refusedInEverySpelling(project, ["recipient_opted_out"]);
  });
});

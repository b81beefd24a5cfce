/**
 * Tags and contact groups (reference 001): the project's dictionaries with
 * live counts, a contact's keys changed by `{ add, remove }`, and a send's
 * `tags[]`/`groups[]` stamping its recipient. Real D1 behind the API.
 */
import { describe, expect, it } from "vitest";
import { CUSTOMER, CUSTOMER_JID, api, crmProject, customerWrites, sendText, timelineOf } from "./crm-fixtures.ts";
import { call, messageOf, newProject, postRaw, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const dictionaries = [
  { path: "/tags", kind: "tag", field: "tags", segment: "tags" },
  { path: "/contact-groups", kind: "group", field: "groups", segment: "groups" },
] as const;

describe.each(dictionaries)("the $path dictionary", ({ path, kind, field, segment }) => {
  it("creates entries with key, name and color, lists them by key with the live number of contacts", async () => {
    const { api_key: key } = await newProject();
    const hot = await api(key, "POST", path, { key: "hot-lead", name: "Hot lead", color: "#22C55E" });
    expect(hot.status).toBe(201);
    expect(hot.json).toEqual({
      id: expect.any(String),
      key: "hot-lead",
      name: "Hot lead",
      color: "#22c55e",
      count: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    // Name defaults to the key; color is optional.
    const bare = await api(key, "POST", path, { key: "a_first" });
    expect(bare.json).toMatchObject({ key: "a_first", name: "a_first", color: null });

    const list = await api(key, "GET", path);
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ total: 2, limit: 200, offset: 0 });
    expect(list.json.data.map((e: { key: string }) => e.key)).toEqual(["a_first", "hot-lead"]);
    const second = await api(key, "GET", `${path}?limit=1&offset=1`);
    expect(second.json).toMatchObject({ total: 2, limit: 1, offset: 1, data: [{ key: "hot-lead" }] });
  });

  it("refuses keys that are not slugs, bad colors and duplicate keys, naming the field", async () => {
    const { api_key: key } = await newProject();
    for (const bad of ["hot lead", "", "x".repeat(65), "lead!", "ação"]) {
      const res = await api(key, "POST", path, { key: bad, name: "x" });
      expect(res.status, bad).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", details: { field: "key" } });
    }
    for (const color of ["green", "#12345", "#1234567", "22c55e"]) {
      const res = await api(key, "POST", path, { key: "ok", color });
      expect(res.status, color).toBe(400);
      expect(res.json.error.details.field).toBe("color");
    }
    expect((await api(key, "POST", path, { key: "x".repeat(64) })).status).toBe(201);
    expect((await api(key, "POST", path, { key: "vip" })).status).toBe(201);
    const again = await api(key, "POST", path, { key: "vip", name: "Other" });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: "key_exists", details: { field: "key" } });
  });

  it("renames and recolors an entry; its key never changes; unknown ids are 404", async () => {
    const { api_key: key } = await newProject();
    const { json: created } = await api(key, "POST", path, { key: "vip", name: "VIP", color: "#000000" });
    const changed = await api(key, "PATCH", `${path}/${created.id}`, { name: "Very important", color: null });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ id: created.id, key: "vip", name: "Very important", color: null, count: 0 });
    const rekey = await api(key, "PATCH", `${path}/${created.id}`, { key: "other" });
    expect(rekey.status).toBe(400);
    expect(rekey.json.error.code).toBe("invalid_request");
    expect((await api(key, "PATCH", `${path}/nope`, { name: "x" })).status).toBe(404);
    expect((await api(key, "DELETE", `${path}/nope`)).status).toBe(404);
  });

  it(`a contact's ${field}: add (unknown keys created on the spot) and remove by key, each change in the timeline`, async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    await api(key, "POST", path, { key: "cold", name: "Cold" });

    const added = await api(key, "POST", `/contacts/${contactId}/${segment}`, { add: ["cold", "hot-lead"] });
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ id: contactId, phone: CUSTOMER, [field]: ["cold", "hot-lead"] });
    const created = (await api(key, "GET", path)).json.data.find((e: { key: string }) => e.key === "hot-lead");
    expect(created).toMatchObject({ name: "hot-lead", count: 1 });

    const swapped = await api(key, "POST", `/contacts/${contactId}/${segment}`, { add: ["won"], remove: ["cold", "never-had"] });
    expect(swapped.json[field]).toEqual(["hot-lead", "won"]);
    const counts = Object.fromEntries((await api(key, "GET", path)).json.data.map((e: { key: string; count: number }) => [e.key, e.count]));
    expect(counts).toEqual({ cold: 0, "hot-lead": 1, won: 1 });
    // Adding what it has already changes nothing and records nothing.
    await api(key, "POST", `/contacts/${contactId}/${segment}`, { add: ["won"] });

    const events = (await timelineOf(key, contactId)).filter((e) => e.kind === "event");
    const seen = events.map((e) => [e.type, e.payload[kind]]).sort();
    expect(seen).toEqual(
      [
        [`${kind}_added`, "cold"],
        [`${kind}_added`, "hot-lead"],
        [`${kind}_added`, "won"],
        [`${kind}_removed`, "cold"],
      ].sort(),
    );
    expect(events.every((e) => e.actor === "api")).toBe(true);
  });

  it("deleting an entry unlinks it from every contact that had it", async () => {
    const project = await crmProject();
    const { key } = project;
    const one = await customerWrites(project);
    const two = await customerWrites(project, "5511977776666@s.whatsapp.net");
    for (const c of [one, two]) await api(key, "POST", `/contacts/${c.contactId}/${segment}`, { add: ["promo", "keep"] });
    const promo = (await api(key, "GET", path)).json.data.find((e: { key: string }) => e.key === "promo");
    expect(promo.count).toBe(2);

    const removed = await api(key, "DELETE", `${path}/${promo.id}`);
    expect(removed.status).toBe(204);
    expect((await api(key, "GET", path)).json.data.map((e: { key: string; count: number }) => [e.key, e.count])).toEqual([["keep", 2]]);
    for (const c of [one, two]) {
      // An empty change answers with the contact as it is.
      const contact = await api(key, "POST", `/contacts/${c.contactId}/${segment}`, {});
      expect(contact.json[field]).toEqual(["keep"]);
    }
    expect((await api(key, "DELETE", `${path}/${promo.id}`)).status).toBe(404);
    // The key is free again, and starts with no contacts.
    expect((await api(key, "POST", path, { key: "promo" })).json.count).toBe(0);
  });

  it("a project never sees, changes or links another project's entries", async () => {
    const a = await crmProject("a");
    const b = await newProject("b");
    const { json: secret } = await api(a.key, "POST", path, { key: "secret" });
    const { contactId } = await customerWrites(a);
    await api(a.key, "POST", `/contacts/${contactId}/${segment}`, { add: ["secret"] });

    expect((await api(b.api_key, "GET", path)).json).toMatchObject({ data: [], total: 0 });
    expect((await api(b.api_key, "PATCH", `${path}/${secret.id}`, { name: "mine" })).status).toBe(404);
    expect((await api(b.api_key, "DELETE", `${path}/${secret.id}`)).status).toBe(404);
    expect((await api(b.api_key, "POST", `/contacts/${contactId}/${segment}`, { add: ["x"] })).status).toBe(404);
    // B's own key of the same name is its own entry.
    expect((await api(b.api_key, "POST", path, { key: "secret" })).status).toBe(201);
    const mine = (await api(a.key, "GET", path)).json.data;
    expect(mine).toEqual([expect.objectContaining({ id: secret.id, key: "secret", name: "secret", count: 1 })]);
  });
});

describe("changing a contact's keys", () => {
  it("refuses bad keys in add (naming the index), a key both added and removed, and unknown contacts", async () => {
    const project = await crmProject();
    const { contactId } = await customerWrites(project);
    const bad = await api(project.key, "POST", `/contacts/${contactId}/tags`, { add: ["ok", "Not OK"] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("add.1");
    const both = await api(project.key, "POST", `/contacts/${contactId}/groups`, { add: ["x"], remove: ["x"] });
    expect(both.status).toBe(400);
    expect(both.json.error.details.field).toBe("remove");
    expect((await api(project.key, "POST", "/contacts/nobody/tags", { add: ["x"] })).status).toBe(404);
    // Nothing was created by the refused calls.
    expect((await api(project.key, "GET", "/tags")).json.total).toBe(0);
  });
});

describe("stamping on send", () => {
  it("a send's tags[] and groups[] stamp the recipient's contact, created on the spot (source outbound), keys too", async () => {
    const { key, fleet } = await crmProject();
    await api(key, "POST", "/tags", { key: "customer", name: "Customer" });
    const res = await sendText(key, { to: "+55 (11) 98888-7777", tags: ["customer", "hot-lead"], groups: ["onboarding"] });
    expect(res.status).toBe(202);
    await waitFor(() => fleet.sends.length === 1, 3_000, "sent");

    const tags = (await api(key, "GET", "/tags")).json.data;
    expect(tags.map((t: { key: string; name: string; count: number }) => [t.key, t.name, t.count])).toEqual([
      ["customer", "Customer", 1],
      ["hot-lead", "hot-lead", 1],
    ]);
    const [group] = (await api(key, "GET", "/contact-groups")).json.data;
    expect(group).toMatchObject({ key: "onboarding", count: 1 });

    // The message joins the same contact once sent.
    await waitFor(async () => (await messageOf(key, res.json.id)).contact_id !== null, 3_000, "message stamped");
    const contactId = (await messageOf(key, res.json.id)).contact_id;
    const contact = (await api(key, "POST", `/contacts/${contactId}/tags`, {})).json;
    expect(contact).toMatchObject({ phone: CUSTOMER, jid: CUSTOMER_JID, source: "outbound", tags: ["customer", "hot-lead"], groups: ["onboarding"] });
    const stamps = (await timelineOf(key, contactId)).filter((e) => e.kind === "event");
    expect(stamps).toHaveLength(3);
    expect(stamps.every((e) => e.actor === "api" && e.payload.message_id === res.json.id)).toBe(true);
  });

  it("stamps an existing contact found by the other 9th-digit form, and a repeat send adds nothing new", async () => {
    const project = await crmProject();
    const { key } = project;
    const { contactId } = await customerWrites(project);
    await sendText(key, { to: "+551188887777", tags: ["vip"] });
    await sendText(key, { to: CUSTOMER_JID, tags: ["vip"], groups: ["q3"] });
    const contact = (await api(key, "POST", `/contacts/${contactId}/tags`, {})).json;
    expect(contact).toMatchObject({ source: "inbound", tags: ["vip"], groups: ["q3"] });
    expect((await api(key, "GET", "/tags")).json.data).toEqual([expect.objectContaining({ key: "vip", count: 1 })]);
    const events = (await timelineOf(key, contactId)).filter((e) => e.kind === "event").map((e) => e.type);
    expect(events.sort()).toEqual(["group_added", "tag_added"]);
  });

  it("a send with a tag or group key that is not a slug is refused (400 naming it) and nothing leaves", async () => {
    const { key, fleet } = await crmProject();
    const bad = await sendText(key, { to: CUSTOMER, tags: ["ok", "Hot Lead"] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("tags.1");
    const badGroup = await sendText(key, { to: CUSTOMER, groups: ["Ação"] });
    expect(badGroup.json.error.details.field).toBe("groups.0");
    await new Promise((r) => setTimeout(r, 200));
    expect(fleet.sends).toHaveLength(0);
    expect((await api(key, "GET", "/tags")).json.total).toBe(0);
  });
});

describe("keys in any case", () => {
  it.each(dictionaries)("$path: a key written in mixed case is the lowercase key in the dictionary, a contact's add/remove, a filter, a new contact and an import", async ({ path, field, segment }) => {
    const project = await crmProject();
    const { key } = project;
    const created = await api(key, "POST", path, { key: " Hot-Lead ", name: "Hot lead" });
    expect(created.status).toBe(201);
    expect(created.json.key).toBe("hot-lead");
    const again = await api(key, "POST", path, { key: "HOT-LEAD" });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: "key_exists", details: { field: "key" } });

    const { contactId } = await customerWrites(project);
    const added = await api(key, "POST", `/contacts/${contactId}/${segment}`, { add: ["VIP", "vip", "Hot-Lead"] });
    expect(added.status).toBe(200);
    expect(added.json[field]).toEqual(["hot-lead", "vip"]);
    // One event per key actually added, however it was written.
    expect((await timelineOf(key, contactId)).filter((e) => e.type.endsWith("_added")).map((e) => Object.values(e.payload)[0]).sort()).toEqual(["hot-lead", "vip"]);
    const listed = await api(key, "GET", `/contacts?${field}=VIP,Nope`);
    expect(listed.status).toBe(200);
    expect(listed.json.data.map((c: { id: string }) => c.id)).toEqual([contactId]);
    const removed = await api(key, "POST", `/contacts/${contactId}/${segment}`, { remove: ["Hot-LEAD"] });
    expect(removed.json[field]).toEqual(["vip"]);

    const other = await api(key, "POST", "/contacts", { phone: "+5511977776666", [field]: ["Q3", "q3"] });
    expect(other.status).toBe(201);
    expect(other.json[field]).toEqual(["q3"]);
    const imported = await postRaw("/contacts/import", key, `phone,${field}\n+5511966665555,VIP;Q3;Hot-Lead;vip\n`, "text/csv");
    expect(imported.json).toMatchObject({ created: 1, errors: [] });
    const byPhone = (await api(key, "GET", `/contacts?${field}=hot-lead`)).json.data.find((c: { phone: string }) => c.phone === "+5511966665555");
    expect(byPhone[field]).toEqual(["hot-lead", "q3", "vip"]);
    const dictionary = (await api(key, "GET", path)).json.data.map((e: { key: string; count: number }) => [e.key, e.count]);
    expect(dictionary).toEqual([
      ["hot-lead", 1],
      ["q3", 2],
      ["vip", 2],
    ]);
  });

  it("a send's tags[] and groups[] in mixed case stamp the lowercase keys, and the message keeps them so", async () => {
    const project = await crmProject();
    const { key } = project;
    const res = await sendText(key, { to: CUSTOMER, tags: ["Customer", "customer "], groups: ["Onboarding"] });
    expect(res.status).toBe(202);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    const message = await messageOf(key, res.json.id);
    expect(message).toMatchObject({ tags: ["customer", "customer"], groups: ["onboarding"] });
    const contact = (await api(key, "GET", "/contacts?tags=CUSTOMER")).json.data[0];
    expect(contact).toMatchObject({ phone: CUSTOMER, tags: ["customer"], groups: ["onboarding"] });
    expect((await api(key, "GET", "/tags")).json.data.map((t: { key: string }) => t.key)).toEqual(["customer"]);
  });
});

describe("the API surface", () => {
  it("documents the dictionary, contact-action and suppression routes, and each needs a project key", async () => {
    const doc = (await call("/openapi.json")).json;
    const routes: [string, string][] = [
      ["/tags", "get"], ["/tags", "post"], ["/tags/{id}", "patch"], ["/tags/{id}", "delete"],
      ["/contact-groups", "get"], ["/contact-groups", "post"], ["/contact-groups/{id}", "patch"], ["/contact-groups/{id}", "delete"],
      ["/contacts/{id}/history", "get"], ["/contacts/{id}/notes", "post"], ["/contacts/{id}/tags", "post"], ["/contacts/{id}/groups", "post"],
      ["/contacts/{id}/optout", "post"], ["/contacts/{id}/suppress", "post"], ["/contacts/{id}/optin", "post"],
      ["/suppressions", "get"], ["/suppressions", "post"], ["/suppressions", "delete"],
    ];
    for (const [path, method] of routes) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
      const res = await call(path.replace("{id}", "x"), { method: method.toUpperCase(), body: method === "get" || method === "delete" ? undefined : {} });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect(doc.components.schemas.Suppression.properties.source.enum).toEqual(["api", "admin", "contact", "system"]);
    expect(doc.components.schemas.Settings.properties.optout_keywords).toBeDefined();
  });
});

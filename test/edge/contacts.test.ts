/**
 * The contact base (reference 001): POST/GET/PATCH/DELETE /contacts/{id},
 * GET /contacts with every filter alone and combined, and contacts made by
 * messages (received through the number's fleet socket, sent through the
 * API) showing up as one contact per person.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  call,
  closeFleetSockets,
  connectedFleet,
  deliver,
  inboundMessage,
  messageOf,
  newInstance,
  newProject,
  noPacing,
  useFleetSockets,
  waitFor,
} from "./helpers.ts";

useFleetSockets();

const api = (key: string, method: string, path: string, body?: unknown) => call(path, { method, token: key, body });
const create = async (key: string, body: Record<string, unknown>) => {
  const res = await api(key, "POST", "/contacts", body);
  if (res.status !== 201) throw new Error(`POST /contacts: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
};
const list = async (key: string, query = "") => {
  const res = await api(key, "GET", `/contacts${query ? `?${query}` : ""}`);
  if (res.status !== 200) throw new Error(`GET /contacts?${query}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as { data: any[]; total: number; limit: number; offset: number };
};
/** The phones a filtered list returns, sorted, with its total. */
const phones = async (key: string, query: string) => {
  const page = await list(key, query);
  expect(page.total).toBe(page.data.length);
  return page.data.map((c) => c.phone).sort();
};

const EMPTY_ADDRESS = { street: null, number: null, complement: null, district: null, city: null, state: null, zip: null, country: null };

describe("creating a contact", () => {
  it("stores the profile normalized and answers with reference 001's shape", async () => {
    const { api_key: key } = await newProject();
    const res = await api(key, "POST", "/contacts", {
      phone: "+55 (11) 99999-8888",
      name: "Vinicius Berni",
      email: " Vinicius@Example.COM ",
      document: "123.456.789-00",
      document_type: "CPF",
      address: { city: "Porto Alegre", state: "RS", country: "BR" },
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.json).sort()).toEqual(
      [
        "id", "phone", "jid", "lid", "name", "email", "document", "document_type", "address", "status", "opted_out_at", "source",
        "instance_id", "message_count", "last_message_at", "avatar_url", "tags", "groups", "created_at", "updated_at",
      ].sort(),
    );
    expect(res.json).toMatchObject({
      phone: "+5511999998888",
      jid: null,
      name: "Vinicius Berni",
      email: "vinicius@example.com",
      document: "12345678900",
      document_type: "cpf",
      address: { ...EMPTY_ADDRESS, city: "Porto Alegre", state: "RS", country: "BR" },
      status: "active",
      source: "api",
      instance_id: null,
      message_count: 0,
      last_message_at: null,
      tags: [],
      groups: [],
    });
    expect(Date.parse(res.json.created_at)).not.toBeNaN();
    const got = await api(key, "GET", `/contacts/${res.json.id}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(res.json);
  });

  it("refuses a phone that exists in any format, including the Brazilian number without its 9th digit", async () => {
    const { api_key: key } = await newProject();
    const first = await create(key, { phone: "+5511999998888" });
    for (const phone of ["0055 11 99999-8888", "+55 11 99999-8888", "+551199998888", "(+55) 11 9999-8888"]) {
      const res = await api(key, "POST", "/contacts", { phone, name: "again" });
      expect(res.status, phone).toBe(409);
      expect(res.json.error).toMatchObject({ code: "contact_exists", details: { field: "phone", contact_id: first.id } });
    }
    expect((await list(key)).total).toBe(1);
    // The same number is free in another project.
    const { api_key: other } = await newProject("other");
    expect((await api(other, "POST", "/contacts", { phone: "+551199998888" })).status).toBe(201);
  });

  it("links tags and contact groups given at creation, creating unknown keys", async () => {
    const { api_key: key } = await newProject();
    const created = await create(key, { phone: "+5511911112222", tags: ["hot-lead", "vip"], groups: ["onboarding"] });
    expect(created).toMatchObject({ tags: ["hot-lead", "vip"], groups: ["onboarding"] });
    const dictionary = (await api(key, "GET", "/tags")).json.data;
    expect(dictionary.map((t: any) => [t.key, t.count])).toEqual([["hot-lead", 1], ["vip", 1]]);
  });

  it.each([
    [{}, "phone"],
    [{ phone: "not a phone" }, "phone"],
    [{ phone: "+12" }, "phone"],
    [{ phone: "+5511999998888", email: "nope" }, "email"],
    [{ phone: "+5511999998888", document: "123", document_type: "cpf" }, "document"],
    [{ phone: "+5511999998888", document: "1234567890", document_type: "cnpj" }, "document"],
    [{ phone: "+5511999998888", status: "opted_out" }, "status"],
    [{ phone: "+5511999998888", status: "blocked" }, "status"],
    [{ phone: "+5511999998888", address: { city: 12 } }, "address.city"],
    [{ phone: "+5511999998888", name: "x".repeat(201) }, "name"],
    [{ phone: "+5511999998888", tags: ["Not A Key"] }, "tags.0"],
  ])("answers 400 naming the field for %j", async (body, field) => {
    const { api_key: key } = await newProject();
    const res = await api(key, "POST", "/contacts", body);
    expect(res.status).toBe(400);
    expect(res.json.error.details.field).toBe(field);
    expect((await list(key)).total).toBe(0);
  });
});

describe("reading, updating and removing a contact", () => {
  it("updates only the fields sent, merging address parts", async () => {
    const { api_key: key } = await newProject();
    const c = await create(key, {
      phone: "+5511988887777",
      name: "Ana",
      email: "ana@example.com",
      address: { street: "Rua A", number: "10", city: "Porto Alegre", state: "RS" },
    });
    const res = await api(key, "PATCH", `/contacts/${c.id}`, { name: "Ana Souza", address: { number: "12", zip: "90000-000" } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      phone: "+5511988887777",
      name: "Ana Souza",
      email: "ana@example.com",
      address: { ...EMPTY_ADDRESS, street: "Rua A", number: "12", city: "Porto Alegre", state: "RS", zip: "90000-000" },
      status: "active",
      source: "api",
    });
    expect(res.json.updated_at >= c.updated_at).toBe(true);
    // null clears a field; the rest stays.
    const cleared = await api(key, "PATCH", `/contacts/${c.id}`, { email: null, address: { street: null } });
    expect(cleared.json).toMatchObject({ name: "Ana Souza", email: null, address: { street: null, number: "12", city: "Porto Alegre" } });
    expect((await api(key, "GET", `/contacts/${c.id}`)).json).toEqual(cleared.json);
  });

  it("changes the phone of a contact WhatsApp has not confirmed, refusing one another contact has", async () => {
    const { api_key: key } = await newProject();
    const a = await create(key, { phone: "+5511911110000" });
    await create(key, { phone: "+5511987650000" });
    const moved = await api(key, "PATCH", `/contacts/${a.id}`, { phone: "+55 11 93333-0000" });
    expect(moved.status).toBe(200);
    expect(moved.json.phone).toBe("+5511933330000");
    // The other contact's number, written without the 9th digit.
    const clash = await api(key, "PATCH", `/contacts/${a.id}`, { phone: "+551187650000" });
    expect(clash.status).toBe(409);
    expect(clash.json.error.code).toBe("contact_exists");
    const bad = await api(key, "PATCH", `/contacts/${a.id}`, { phone: "abc" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("phone");
    expect((await api(key, "GET", `/contacts/${a.id}`)).json.phone).toBe("+5511933330000");
  });

  it("answers 400 naming the field for bad values, changing nothing", async () => {
    const { api_key: key } = await newProject();
    const c = await create(key, { phone: "+5511988887777", name: "Ana", document: "12345678900", document_type: "cpf" });
    for (const [body, field] of [
      [{ email: "@@" }, "email"],
      [{ name: 5 }, "name"],
      [{ phone: null }, "phone"],
      [{ status: "nope" }, "status"],
      [{ address: "Porto Alegre" }, "address"],
      // A new type applies to the stored document: eleven digits are no CNPJ.
      [{ document_type: "cnpj" }, "document_type"],
    ] as const) {
      const res = await api(key, "PATCH", `/contacts/${c.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details.field).toBe(field);
    }
    expect((await api(key, "GET", `/contacts/${c.id}`)).json).toEqual(c);
  });

  it("records a status change in the timeline, and leaves opted-out contacts to the privacy routes", async () => {
    const { api_key: key } = await newProject();
    const c = await create(key, { phone: "+5511988887777" });
    const res = await api(key, "PATCH", `/contacts/${c.id}`, { status: "pending_validation" });
    expect(res.json.status).toBe("pending_validation");
    const history = (await api(key, "GET", `/contacts/${c.id}/history`)).json.data;
    expect(history).toContainEqual(expect.objectContaining({ kind: "event", type: "status_changed", payload: { from: "active", to: "pending_validation" } }));

    expect((await api(key, "POST", `/contacts/${c.id}/optout`)).status).toBe(200);
    const refused = await api(key, "PATCH", `/contacts/${c.id}`, { status: "active" });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: "contact_suppressed", details: { field: "status" } });
    expect((await api(key, "GET", `/contacts/${c.id}`)).json.status).toBe("opted_out");
    // Other fields still change.
    expect((await api(key, "PATCH", `/contacts/${c.id}`, { name: "Still here" })).json).toMatchObject({ name: "Still here", status: "opted_out" });
  });

  it("a number on the suppression list is created with its listed status", async () => {
    const { api_key: key } = await newProject();
    expect((await api(key, "POST", "/suppressions", { phone: "+5511988887777", reason: "optout" })).status).toBe(201);
    const c = await create(key, { phone: "+551188887777", status: "active" });
    expect(c.status).toBe("opted_out");
  });

  it("removes a contact with its tags and conversation; its messages stay, and its number comes back as a new contact", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const instance = await newInstance(key);
    const fleet = await connectedFleet(instance.id);
    const chat = "5511977776666@s.whatsapp.net";
    const { message_id } = await deliver(fleet.socket, inboundMessage(chat, { body: "oi", push_name: "Bia" }));
    const [contact] = (await list(key)).data;
    expect((await api(key, "POST", `/contacts/${contact.id}/tags`, { add: ["hot-lead"] })).status).toBe(200);

    const res = await api(key, "DELETE", `/contacts/${contact.id}`);
    expect(res.status).toBe(204);
    expect((await api(key, "GET", `/contacts/${contact.id}`)).status).toBe(404);
    expect((await api(key, "DELETE", `/contacts/${contact.id}`)).status).toBe(404);
    expect((await list(key)).total).toBe(0);
    expect((await api(key, "GET", "/tags")).json.data).toMatchObject([{ key: "hot-lead", count: 0 }]);
    expect((await api(key, "GET", `/conversations/${chat}/messages`)).status).toBe(404);
    expect((await messageOf(key, message_id)).id).toBe(message_id);

    await deliver(fleet.socket, inboundMessage(chat, { body: "voltei", push_name: "Bia" }));
    const again = (await list(key)).data;
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ phone: "+5511977776666", name: "Bia", message_count: 1, tags: [] });
    expect(again[0].id).not.toBe(contact.id);
    const history = (await api(key, "GET", `/conversations/${chat}/messages`)).json.data;
    expect(history.map((m: any) => m.body)).toEqual(["voltei"]);
  });

  it("belongs to its project alone", async () => {
    const { api_key: key } = await newProject();
    const { api_key: other } = await newProject("other");
    const c = await create(key, { phone: "+5511988887777", name: "Mine", address: { city: "Recife" } });
    await create(other, { phone: "+5511911112222", name: "Theirs", address: { city: "Recife" } });
    expect((await api(other, "GET", `/contacts/${c.id}`)).status).toBe(404);
    expect((await api(other, "PATCH", `/contacts/${c.id}`, { name: "x" })).status).toBe(404);
    expect((await api(other, "DELETE", `/contacts/${c.id}`)).status).toBe(404);
    for (const query of ["", "city=Recife", "search=Mine", "search=98888", "sort=name"]) {
      expect((await list(other, query)).data.map((x) => x.name), query).toEqual(query.includes("Mine") || query.includes("98888") ? [] : ["Theirs"]);
    }
    expect((await api(key, "GET", `/contacts/${c.id}`)).json.name).toBe("Mine");
    expect((await api(key, "GET", "/contacts", undefined)).status).toBe(200);
    expect((await call("/contacts")).status).toBe(401);
  });
});

describe("listing contacts", () => {
  /**
   * A base of eight people: each filter below picks a known subset.
   * Created in this order (so `sort=created` is the reverse).
   */
  const PEOPLE = [
    { phone: "+5511900000001", name: "Ana Souza", email: "ana@acme.com", document: "111.111.111-11", document_type: "cpf", tags: ["hot-lead", "vip"], groups: ["onboarding"], address: { city: "Porto Alegre", state: "RS", country: "BR", zip: "90000-000" } },
    { phone: "+5511900000002", name: "Bruno Lima", email: "bruno@beta.com", tags: ["hot-lead"], address: { city: "porto alegre", state: "rs", country: "br" } },
    { phone: "+5511987650003", name: "Carla Dias", tags: ["vip"], groups: ["onboarding", "churn-risk"], address: { city: "São Paulo", state: "SP", country: "BR", zip: "01000-000" } },
    { phone: "+5511900000004", name: "João Pereira", email: "joao@acme.com", status: "pending_validation", address: { city: "Porto Alegre", state: "RS", country: "BR" } },
    { phone: "+5511900000005", name: "Dora", status: "unreachable", tags: ["cold"], address: { city: "Lisboa", country: "PT" } },
    { phone: "+14155550006", name: "Eve", email: "eve@example.us", document: "X1234567", document_type: "passport", tags: ["hot-lead"], groups: ["churn-risk"], address: { city: "San Francisco", state: "CA", country: "US" } },
    { phone: "+5511900000007", email: "nameless@acme.com", tags: ["hot-lead", "vip"], address: { city: "Porto Alegre", state: "RS", country: "BR" } },
    { phone: "+5511900000008", name: "al", groups: ["onboarding"] },
  ];
  const p = (i: number) => PEOPLE[i - 1]!.phone;
  const sorted = (...ids: number[]) => ids.map(p).sort();

  let key: string;
  let instanceA: string;
  let instanceB: string;
  let created: any[];
  /** last_message_at of the messaged contacts, by person number. */
  const activity = new Map<number, string>();

  beforeAll(async () => {
    ({ api_key: key } = await newProject());
    await noPacing(key);
    created = [];
    for (const person of PEOPLE) created.push(await create(key, person));
    // Activity: 3 talks to number A, then 1, then 6 to number B; 2 last, to A.
    instanceA = (await newInstance(key, "a")).id;
    instanceB = (await newInstance(key, "b")).id;
    const fleetA = await connectedFleet(instanceA);
    const fleetB = await connectedFleet(instanceB);
    for (const [i, fleet] of [[3, fleetA], [1, fleetA], [6, fleetB], [2, fleetA]] as const) {
      await deliver(fleet.socket, inboundMessage(`${p(i).slice(1)}@s.whatsapp.net`, { body: "oi", push_name: `push ${i}` }));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of (await list(key)).data) if (c.last_message_at) activity.set(PEOPLE.findIndex((x) => x.phone === c.phone) + 1, c.last_message_at);
    closeFleetSockets();
  });

  it("lists everyone by last activity (never-messaged last, newest created first among them), with reference 001's page shape", async () => {
    const page = await list(key);
    expect(page).toMatchObject({ total: 8, limit: 200, offset: 0 });
    expect(page.data.map((c) => c.phone)).toEqual([2, 6, 1, 3, 8, 7, 5, 4].map(p));
    // Names given by the API are kept over WhatsApp's push names; a messaged contact carries its activity.
    expect(page.data[0]).toMatchObject({ name: "Bruno Lima", instance_id: instanceA, message_count: 1, source: "api", tags: ["hot-lead"] });
    expect(page.data.find((c) => c.phone === p(1))).toMatchObject({ tags: ["hot-lead", "vip"], groups: ["onboarding"] });
  });

  it("sorts by name (case ignored, nameless last) and by creation (newest first)", async () => {
    expect((await list(key, "sort=name")).data.map((c) => c.name)).toEqual(["al", "Ana Souza", "Bruno Lima", "Carla Dias", "Dora", "Eve", "João Pereira", null]);
    expect((await list(key, "sort=created")).data.map((c) => c.phone)).toEqual([8, 7, 6, 5, 4, 3, 2, 1].map(p));
  });

  it("pages with limit and offset, the total counting every match", async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 10; offset += 3) {
      const page = await list(key, `sort=created&limit=3&offset=${offset}`);
      expect(page).toMatchObject({ total: 8, limit: 3, offset });
      seen.push(...page.data.map((c) => c.phone));
    }
    expect(seen).toEqual([8, 7, 6, 5, 4, 3, 2, 1].map(p));
    const filtered = await list(key, "tags=hot-lead&limit=2&offset=1&sort=created");
    expect(filtered.total).toBe(4);
    expect(filtered.data.map((c) => c.phone)).toEqual([6, 2].map(p));
    expect((await list(key, "offset=100")).data).toEqual([]);
    // A narrow filter (here a city) pages and sorts the same way.
    const inCity = await list(key, "city=porto%20alegre&limit=2&offset=1");
    expect(inCity).toMatchObject({ total: 4, limit: 2, offset: 1 });
    expect(inCity.data.map((c) => c.phone)).toEqual([1, 7].map(p));
    expect((await list(key, "city=porto%20alegre")).data.map((c) => c.phone)).toEqual([2, 1, 7, 4].map(p));
    expect((await list(key, "city=porto%20alegre&sort=name")).data.map((c) => c.name)).toEqual(["Ana Souza", "Bruno Lima", "João Pereira", null]);
    expect((await list(key, "city=porto%20alegre&sort=created")).data.map((c) => c.phone)).toEqual([7, 4, 2, 1].map(p));
    expect(await list(key, "city=porto%20alegre&offset=10")).toMatchObject({ data: [], total: 4 });
    expect(await list(key, "search=nobody&offset=10")).toMatchObject({ data: [], total: 0 });
    expect(await list(key, "tags=vip&offset=10")).toMatchObject({ data: [], total: 3 });
  });

  it.each([
    ["tags=hot-lead", [1, 2, 6, 7]],
    ["tags=vip,cold", [1, 3, 5, 7]],
    ["tags=vip&tags=cold", [1, 3, 5, 7]],
    ["tags=hot-lead,vip&tags_match=all", [1, 7]],
    ["tags=hot-lead&tags_match=all", [1, 2, 6, 7]],
    ["tags=vip,nobody-has-this&tags_match=all", []],
    ["tags=nobody-has-this", []],
    ["groups=onboarding", [1, 3, 8]],
    ["groups=churn-risk,onboarding", [1, 3, 6, 8]],
    ["status=active", [1, 2, 3, 6, 7, 8]],
    ["status=pending_validation,unreachable", [4, 5]],
    ["status=opted_out", []],
    ["city=Porto%20Alegre", [1, 2, 4, 7]],
    ["city=s%C3%A3o%20paulo", [3]],
    ["state=rs", [1, 2, 4, 7]],
    ["country=br", [1, 2, 3, 4, 7]],
    ["country=PT", [5]],
    ["zip=90000-000", [1]],
    ["document=11111111111", [1]],
    ["document=111.111.111-11", [1]],
    ["document=X1234567", [6]],
    ["has_email=true", [1, 2, 4, 6, 7]],
    ["has_email=false", [3, 5, 8]],
    ["search=souza", [1]],
    ["search=SOUZA%20ana", [1]],
    ["search=joao", [4]],
    ["search=acme.com", [1, 4, 7]],
    ["search=00000", [1, 2, 4, 5, 7, 8]],
    ["search=%2B55%2011%2098765-0003", [3]],
    // The same number without its 9th digit.
    ["search=551187650003", [3]],
    ["search=4155", [6]],
    ["search=111.111", [1]],
    ["search=al", [8]],
    ["search=al%20souza", []],
    ["search=a%20souza", [1]],
    ["search=nobody", []],
    ["tags=hot-lead&city=porto%20alegre&has_email=true&status=active", [1, 2, 7]],
    ["tags=vip&groups=onboarding", [1, 3]],
    ["search=acme&tags=vip", [1, 7]],
    ["country=BR&has_email=false&groups=churn-risk", [3]],
    ["state=RS&status=pending_validation&search=pereira", [4]],
    ["city=porto%20alegre&tags=cold", []],
  ])("filters %s", async (query, expected) => {
    expect(await phones(key, query)).toEqual(sorted(...expected));
  });

  it("filters by the number that last talked to the contact", async () => {
    expect(await phones(key, `instance_id=${instanceA}`)).toEqual(sorted(1, 2, 3));
    expect(await phones(key, `instance_id=${instanceB}`)).toEqual(sorted(6));
    expect(await phones(key, `instance_id=${instanceA}&tags=vip`)).toEqual(sorted(1, 3));
    expect(await phones(key, "instance_id=unknown")).toEqual([]);
  });

  it("filters by a last-activity window (after inclusive, before exclusive)", async () => {
    const at = (i: number) => activity.get(i)!;
    expect(await phones(key, `last_activity_after=${at(1)}`)).toEqual(sorted(1, 2, 6));
    expect(await phones(key, `last_activity_before=${at(1)}`)).toEqual(sorted(3));
    expect(await phones(key, `last_activity_after=${at(1)}&last_activity_before=${at(2)}`)).toEqual(sorted(1, 6));
    // Any offset: the same instant written in São Paulo time.
    const local = new Date(Date.parse(at(6)) - 3 * 3_600_000).toISOString().replace("Z", "-03:00");
    expect(await phones(key, `last_activity_after=${encodeURIComponent(local)}`)).toEqual(sorted(2, 6));
    expect(await phones(key, `last_activity_after=${at(6)}&tags=hot-lead&has_email=true`)).toEqual(sorted(2, 6));
  });

  it("filters by a creation window", async () => {
    const at = (i: number) => created[i - 1].created_at as string;
    const after = await phones(key, `created_after=${at(5)}`);
    const before = await phones(key, `created_before=${at(5)}`);
    expect([...after, ...before].sort()).toEqual(sorted(1, 2, 3, 4, 5, 6, 7, 8));
    expect(after).toContain(p(5));
    expect(after).toContain(p(8));
    expect(before).toContain(p(1));
    expect(await phones(key, "created_after=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z")).toEqual([]);
    expect(await phones(key, `created_after=2000-01-01T00:00:00Z&tags=cold`)).toEqual(sorted(5));
  });

  it.each([
    ["created_after=yesterday", "created_after"],
    ["created_before=2026-07-01", "created_before"],
    ["last_activity_after=2026-13-01T00:00:00Z", "last_activity_after"],
    ["last_activity_before=1", "last_activity_before"],
    ["status=gone", "status"],
    ["status=active,gone", "status"],
    ["tags=Hot%20Lead", "tags.0"],
    ["groups=ok,not%20ok", "groups.1"],
    ["tags_match=some", "tags_match"],
    ["has_email=yes", "has_email"],
    ["sort=phone", "sort"],
    ["limit=501", "limit"],
    ["limit=0", "limit"],
    ["offset=-1", "offset"],
    ["search=", "search"],
    [`city=${"x".repeat(201)}`, "city"],
  ])("answers 400 naming the parameter for %s", async (query, field) => {
    const res = await api(key, "GET", `/contacts?${query}`);
    expect(res.status).toBe(400);
    expect(res.json.error.details.field).toBe(field);
  });
});

describe("contacts made by messages", () => {
  async function numberWithFleet(onWhatsApp: Record<string, string> = {}) {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const instance = await newInstance(key);
    const fleet = await connectedFleet(instance.id, { onWhatsApp });
    return { key, instanceId: instance.id, fleet };
  }

  it("a received message makes one contact, with WhatsApp's name, the number and the activity", async () => {
    const { key, instanceId, fleet } = await numberWithFleet();
    await deliver(fleet.socket, inboundMessage("5511977776666@s.whatsapp.net", { push_name: "Maria" }));
    await deliver(fleet.socket, inboundMessage("5511977776666@s.whatsapp.net", { push_name: "Maria Silva" }));
    const page = await list(key);
    expect(page.total).toBe(1);
    expect(page.data[0]).toMatchObject({
      phone: "+5511977776666",
      jid: "5511977776666@s.whatsapp.net",
      name: "Maria Silva",
      source: "inbound",
      status: "active",
      instance_id: instanceId,
      message_count: 2,
      tags: [],
      groups: [],
    });
    expect(Date.parse(page.data[0].last_message_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await phones(key, "search=maria")).toEqual(["+5511977776666"]);
  });

  it("a send through the API makes one contact, source outbound", async () => {
    const jid = "5511966665555@s.whatsapp.net";
    const { key, instanceId } = await numberWithFleet({ "5511966665555": jid });
    const sent = await api(key, "POST", "/messages/text", { to: "+55 11 96666-5555", body: "Olá" });
    expect(sent.status).toBe(202);
    await waitFor(async () => (await messageOf(key, sent.json.id)).status === "sent", 3_000, "sent");
    const page = await list(key);
    expect(page.total).toBe(1);
    expect(page.data[0]).toMatchObject({ phone: "+5511966665555", jid, name: null, source: "outbound", instance_id: instanceId, message_count: 1 });
  });

  it("a contact created through the API and then messaged stays one contact, even from the number without its 9th digit", async () => {
    // WhatsApp registered this customer before the 9th digit: it knows them as 551188887777.
    const jid = "551188887777@s.whatsapp.net";
    const { key, instanceId, fleet } = await numberWithFleet({ "5511988887777": jid, "551188887777": jid });
    const c = await create(key, { phone: "+5511988887777", name: "Vinicius Berni", tags: ["hot-lead"] });

    await deliver(fleet.socket, inboundMessage(jid, { push_name: "Vini 🚀" }));
    const sent = await api(key, "POST", "/messages/text", { to: "+5511988887777", body: "Oi Vinicius" });
    await waitFor(async () => (await messageOf(key, sent.json.id)).status === "sent", 3_000, "sent");

    const page = await list(key);
    expect(page.total).toBe(1);
    expect(page.data[0]).toMatchObject({
      id: c.id,
      // WhatsApp's form of the number, now confirmed.
      phone: "+551188887777",
      jid,
      name: "Vinicius Berni",
      source: "api",
      instance_id: instanceId,
      message_count: 2,
      tags: ["hot-lead"],
    });
    // Still one person however the number is written.
    expect((await api(key, "POST", "/contacts", { phone: "+551188887777" })).status).toBe(409);
    expect((await api(key, "POST", "/contacts", { phone: "+5511988887777" })).status).toBe(409);
    // Its phone is now WhatsApp's to say.
    const moved = await api(key, "PATCH", `/contacts/${c.id}`, { phone: "+5511911112222" });
    expect(moved.status).toBe(409);
    expect(moved.json.error.code).toBe("phone_from_whatsapp");
    const history = (await api(key, "GET", `/conversations/${jid}/messages`)).json.data;
    expect(history).toHaveLength(2);
  });

  it("a push name fills in a contact without a name, and a name cleared by a client", async () => {
    const jid = "5511955554444@s.whatsapp.net";
    const { key, fleet } = await numberWithFleet();
    const c = await create(key, { phone: "+5511955554444" });
    await deliver(fleet.socket, inboundMessage(jid, { push_name: "Lia" }));
    expect((await api(key, "GET", `/contacts/${c.id}`)).json.name).toBe("Lia");
    await api(key, "PATCH", `/contacts/${c.id}`, { name: "Lia Martins" });
    await deliver(fleet.socket, inboundMessage(jid, { push_name: "Lia 2" }));
    expect((await api(key, "GET", `/contacts/${c.id}`)).json.name).toBe("Lia Martins");
    await api(key, "PATCH", `/contacts/${c.id}`, { name: null });
    await deliver(fleet.socket, inboundMessage(jid, { push_name: "Lia 3" }));
    expect((await api(key, "GET", `/contacts/${c.id}`)).json.name).toBe("Lia 3");
  });
});

describe("the OpenAPI document", () => {
  it("describes the contact routes and the Contact schema", async () => {
    const doc = (await call("/openapi.json")).json;
    for (const [path, methods] of [["/contacts", ["get", "post"]], ["/contacts/{id}", ["get", "patch", "delete"]], ["/contacts/import", ["post"]]] as const) {
      for (const method of methods) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    expect(Object.keys(doc.components.schemas.Contact.properties)).toEqual(expect.arrayContaining(["phone", "email", "address", "tags", "groups", "status"]));
    const params = doc.paths["/contacts"].get.parameters.map((p: any) => p.name);
    expect(params).toEqual(
      expect.arrayContaining(["search", "tags", "tags_match", "groups", "status", "city", "state", "country", "zip", "document", "has_email", "instance_id",
        "last_activity_after", "last_activity_before", "created_after", "created_before", "sort", "limit", "offset"]),
    );
  });
});

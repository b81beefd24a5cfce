/**
 * POST /contacts/import: CSV and JSON files, normalized and deduplicated
 * (within the file and against the base), a per-row error report, and the
 * 10,000-row limit.
 */
import { describe, expect, it } from "vitest";
import { call, newProject, postRaw } from "./helpers.ts";

const csv = (key: string, text: string, query = "") => postRaw(`/contacts/import${query}`, key, text, "text/csv; charset=utf-8");
const json = (key: string, body: unknown, query = "") => call(`/contacts/import${query}`, { method: "POST", token: key, body });
const all = async (key: string, query = "sort=created") => (await call(`/contacts?limit=500&${query}`, { token: key })).json;
const byPhone = async (key: string) => new Map<string, any>((await all(key)).data.map((c: any) => [c.phone, c]));

describe("importing a CSV", () => {
  it("creates a contact per row with its profile, tags and groups, source import", async () => {
    const { api_key: key } = await newProject();
    const file = [
      "Phone,Name,Email,Document,Document Type,Street,Number,Address City,State,Zip,Country,Tags,Groups",
      "+55 (11) 98888-7777,Ana Souza,Ana@Acme.com,123.456.789-00,cpf,Rua A,10,Porto Alegre,RS,90000-000,BR,hot-lead;vip,onboarding",
      '+5511977776666,"Souza, Bruno",,,,,,São Paulo,SP,,BR,hot-lead,',
      "+1 415 555 0006,Eve,eve@example.us,,,,,San Francisco,CA,,US,,churn-risk;onboarding",
    ].join("\r\n");
    const res = await csv(key, file);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ created: 3, updated: 0, skipped: 0, errors: [] });
    const contacts = await byPhone(key);
    expect(contacts.get("+5511988887777")).toMatchObject({
      name: "Ana Souza",
      email: "ana@acme.com",
      document: "12345678900",
      document_type: "cpf",
      address: { street: "Rua A", number: "10", complement: null, district: null, city: "Porto Alegre", state: "RS", zip: "90000-000", country: "BR" },
      status: "active",
      source: "import",
      tags: ["hot-lead", "vip"],
      groups: ["onboarding"],
    });
    expect(contacts.get("+5511977776666")).toMatchObject({ name: "Souza, Bruno", email: null, address: { city: "São Paulo" }, tags: ["hot-lead"], groups: [] });
    expect(contacts.get("+14155550006")).toMatchObject({ tags: [], groups: ["churn-risk", "onboarding"] });
    const tags = (await call("/tags", { token: key })).json.data.map((t: any) => [t.key, t.count]);
    expect(tags).toEqual([["hot-lead", 2], ["vip", 1]]);
    // The imported tags are in each contact's timeline.
    const ana = contacts.get("+5511988887777");
    const history = (await call(`/contacts/${ana.id}/history`, { token: key })).json.data;
    expect(history.filter((e: any) => e.type === "tag_added").map((e: any) => e.payload.tag).sort()).toEqual(["hot-lead", "vip"]);
    // Found by the filters like any contact.
    expect((await all(key, "tags=hot-lead&city=porto%20alegre&has_email=true")).data.map((c: any) => c.name)).toEqual(["Ana Souza"]);
  });

  it("reads a spreadsheet's semicolon-separated export with a BOM", async () => {
    const { api_key: key } = await newProject();
    const res = await csv(key, '\uFEFFphone;name;city;tags\n+5511988887777;Ana;Recife;"hot-lead,vip"\n+5511977776666;Bia;Natal;cold\n');
    expect(res.json).toMatchObject({ created: 2, errors: [] });
    expect((await byPhone(key)).get("+5511988887777")).toMatchObject({ name: "Ana", address: { city: "Recife" }, tags: ["hot-lead", "vip"] });
  });

  it("reports each bad row by its position and field, and imports the rest", async () => {
    const { api_key: key } = await newProject();
    const file = [
      "phone,name,email,document,document_type,status,tags",
      "+5511988887777,Good,,,,,",
      "not a phone,Bad phone,,,,,",
      ",No phone,,,,,",
      "+5511977776666,Bad email,nope@,,,,",
      "+5511966665555,Bad cpf,,123,cpf,,",
      "+5511955554444,Bad status,,,,opted_out,",
      "+5511944443333,Bad tag,,,,,Hot Lead",
      "+5511933332222,Good too,,,,pending_validation,",
    ].join("\n");
    const res = await csv(key, file);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ created: 2, updated: 0, skipped: 0 });
    expect(res.json.errors.map((e: any) => [e.row, e.field, e.code])).toEqual([
      [2, "phone", "invalid_request"],
      [3, "phone", "invalid_request"],
      [4, "email", "invalid_request"],
      [5, "document", "invalid_request"],
      [6, "status", "invalid_request"],
      [7, "tags.0", "invalid_request"],
    ]);
    for (const e of res.json.errors) expect(e.message).toMatch(new RegExp(`^${e.field.replace(".", "\\.")}: `));
    const contacts = await byPhone(key);
    expect([...contacts.keys()].sort()).toEqual(["+5511933332222", "+5511988887777"]);
    expect(contacts.get("+5511933332222").status).toBe("pending_validation");
  });

  it("keeps the first row for a phone written twice in the file, in any format or without its 9th digit", async () => {
    const { api_key: key } = await newProject();
    const file = ["phone,name", "+5511988887777,First", "0055 11 98888-7777,Second", "+551188887777,Third", "+5511977776666,Other"].join("\n");
    expect((await csv(key, file)).json).toEqual({ created: 2, updated: 0, skipped: 2, errors: [] });
    const contacts = await byPhone(key);
    expect(contacts.size).toBe(2);
    expect(contacts.get("+5511988887777").name).toBe("First");
  });

  it.each([
    ["no phone column", "name,email\nAna,a@b.com", 400, "phone"],
    ["nothing at all", "", 400, "phone"],
  ])("refuses a CSV with %s", async (_what, text, status, field) => {
    const { api_key: key } = await newProject();
    const res = await csv(key, text);
    expect(res.status).toBe(status);
    expect(res.json.error.details.field).toBe(field);
    expect((await all(key)).total).toBe(0);
  });
});

describe("importing JSON", () => {
  it("takes { contacts: [...] } or an array, each like POST /contacts", async () => {
    const { api_key: key } = await newProject();
    const one = await json(key, {
      contacts: [
        { phone: "+5511988887777", name: "Ana", address: { city: "Recife", state: "PE" }, tags: ["vip"] },
        { phone: "+5511977776666", city: "Natal", tags: "hot-lead;cold" },
      ],
    });
    expect(one.json).toEqual({ created: 2, updated: 0, skipped: 0, errors: [] });
    const two = await json(key, [{ phone: "+14155550006", email: "EVE@example.us", groups: ["us"] }]);
    expect(two.json).toEqual({ created: 1, updated: 0, skipped: 0, errors: [] });
    const contacts = await byPhone(key);
    expect(contacts.get("+5511988887777")).toMatchObject({ address: { city: "Recife", state: "PE" }, tags: ["vip"], source: "import" });
    expect(contacts.get("+5511977776666")).toMatchObject({ address: { city: "Natal" }, tags: ["cold", "hot-lead"] });
    expect(contacts.get("+14155550006")).toMatchObject({ email: "eve@example.us", groups: ["us"] });
  });

  it.each([
    ["an object without contacts", { people: [] }, 400, "contacts"],
    ["contacts that are not a list", { contacts: "many" }, 400, "contacts"],
  ])("refuses %s", async (_what, body, status, field) => {
    const { api_key: key } = await newProject();
    const res = await json(key, body);
    expect(res.status).toBe(status);
    expect(res.json.error.details.field).toBe(field);
  });

  it("refuses a body that is not JSON, and other content types", async () => {
    const { api_key: key } = await newProject();
    const broken = await call("/contacts/import", { method: "POST", token: key, raw: "{nope" });
    expect(broken.status).toBe(400);
    expect(broken.json.error.code).toBe("invalid_json");
    const xml = await postRaw("/contacts/import", key, "<contacts/>", "application/xml");
    expect(xml.status).toBe(415);
  });

  it("takes Content-Type: text/csv (any case, with or without a charset); any other type is a 415 that names text/csv and application/json, not a request for JSON", async () => {
    const { api_key: key } = await newProject();
    const file = "phone,name\n+5511988887777,Ana\n";
    for (const [i, type] of ["text/csv", "Text/CSV; charset=UTF-8"].entries()) {
      const res = await postRaw("/contacts/import", key, file.replace("7777", `777${i}`), type);
      expect(res.status, type).toBe(200);
      expect(res.json, type).toMatchObject({ created: 1, errors: [] });
    }
    for (const type of ["text/plain", "application/csv", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]) {
      const res = await postRaw("/contacts/import", key, file, type);
      expect(res.status, type).toBe(415);
      expect(res.json.error, type).toMatchObject({
        code: "unsupported_media_type",
        details: { field: "Content-Type", accepted: ["text/csv", "application/json"] },
      });
      expect(res.json.error.message, type).toContain("text/csv");
    }
    const doc = (await call("/openapi.json")).json.paths["/contacts/import"].post;
    expect(Object.keys(doc.requestBody.content).sort()).toEqual(["application/json", "text/csv"]);
    expect(doc.responses["415"]).toBeDefined();
  });
});

describe("importing over existing contacts", () => {
  it("updates the fields a row fills in and adds its tags; a row that changes nothing is skipped", async () => {
    const { api_key: key } = await newProject();
    const ana = (
      await call("/contacts", {
        method: "POST",
        token: key,
        body: { phone: "+5511988887777", name: "Ana", email: "ana@acme.com", address: { city: "Recife", state: "PE" }, tags: ["vip"] },
      })
    ).json;
    const bia = (await call("/contacts", { method: "POST", token: key, body: { phone: "+5511977776666", name: "Bia", tags: ["cold"] } })).json;
    const file = [
      "phone,name,email,city,zip,tags",
      // Ana, written without the 9th digit: a new city and zip, one more tag; her email cell is empty, so it stays.
      "+551188887777,,,Olinda,53000-000,vip;hot-lead",
      // Bia: exactly what she has.
      "+5511977776666,Bia,,,,cold",
      "+5511966665555,Caio,,,,",
    ].join("\n");
    expect((await csv(key, file)).json).toEqual({ created: 1, updated: 1, skipped: 1, errors: [] });
    const after = (await call(`/contacts/${ana.id}`, { token: key })).json;
    expect(after).toMatchObject({
      phone: "+5511988887777",
      name: "Ana",
      email: "ana@acme.com",
      address: { city: "Olinda", state: "PE", zip: "53000-000" },
      source: "api",
      tags: ["hot-lead", "vip"],
    });
    expect((await call(`/contacts/${bia.id}`, { token: key })).json).toEqual(bia);
    // Only the tag that was added is in the timeline.
    const history = (await call(`/contacts/${ana.id}/history`, { token: key })).json.data;
    expect(history.filter((e: any) => e.type === "tag_added").map((e: any) => e.payload)).toContainEqual({ tag: "hot-lead", source: "import" });
    expect(history.filter((e: any) => e.type === "tag_added" && e.payload.source === "import")).toHaveLength(1);
  });

  it("leaves existing contacts alone with existing=skip", async () => {
    const { api_key: key } = await newProject();
    const ana = (await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777", name: "Ana" } })).json;
    const res = await csv(key, "phone,name\n+5511988887777,Someone else\n+5511977776666,Bia", "?existing=skip");
    expect(res.json).toEqual({ created: 1, updated: 0, skipped: 1, errors: [] });
    expect((await call(`/contacts/${ana.id}`, { token: key })).json.name).toBe("Ana");
    expect((await csv(key, "phone\n+5511955554444", "?existing=never")).status).toBe(400);
  });

  it("keeps the suppression list's say: listed numbers come in suppressed, and opted-out contacts keep their status", async () => {
    const { api_key: key } = await newProject();
    await call("/suppressions", { method: "POST", token: key, body: { phone: "+5511966665555", reason: "optout" } });
    const ana = (await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777", name: "Ana" } })).json;
    await call(`/contacts/${ana.id}/optout`, { method: "POST", token: key });
    const res = await csv(key, "phone,name,status\n+5511988887777,Ana,active\n+5511966665555,Caio,active");
    expect(res.json).toMatchObject({ created: 1, updated: 0, errors: [{ row: 1, field: "status", code: "contact_suppressed" }] });
    const contacts = await byPhone(key);
    expect(contacts.get("+5511988887777").status).toBe("opted_out");
    expect(contacts.get("+5511966665555")).toMatchObject({ name: "Caio", status: "opted_out" });
  });

  it("deduplicates against its own project only", async () => {
    const { api_key: key } = await newProject();
    const { api_key: other } = await newProject("other");
    await call("/contacts", { method: "POST", token: other, body: { phone: "+5511988887777", name: "Theirs" } });
    expect((await csv(key, "phone,name\n+5511988887777,Mine")).json).toMatchObject({ created: 1, updated: 0 });
    expect((await all(other)).data.map((c: any) => c.name)).toEqual(["Theirs"]);
    expect((await all(key)).data.map((c: any) => c.name)).toEqual(["Mine"]);
  });
});

describe("the size limit", () => {
  const rows = (n: number) =>
    ["phone,name,city,tags", ...Array.from({ length: n }, (_, i) => `+55119${String(10_000_000 + i).slice(-8)},Person ${i},City ${i % 7},t${i % 3};all`)].join("\n");

  it("imports 10,000 rows at once", async () => {
    const { api_key: key } = await newProject();
    const res = await csv(key, rows(10_000));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ created: 10_000, updated: 0, skipped: 0, errors: [] });
    expect((await call("/contacts?tags=t1&city=city%204&limit=1", { token: key })).json.total).toBe(
      Array.from({ length: 10_000 }, (_, i) => i).filter((i) => i % 3 === 1 && i % 7 === 4).length,
    );
    const tags = (await call("/tags", { token: key })).json.data.map((t: any) => [t.key, t.count]);
    expect(tags).toEqual([["all", 10_000], ["t0", 3334], ["t1", 3333], ["t2", 3333]]);
    // Importing the same file again changes nothing.
    expect((await csv(key, rows(10_000))).json).toEqual({ created: 0, updated: 0, skipped: 10_000, errors: [] });
  }, 120_000);

  it("refuses more than 10,000 rows with 413, importing none", async () => {
    const { api_key: key } = await newProject();
    const res = await csv(key, rows(10_001));
    expect(res.status).toBe(413);
    expect(res.json.error).toMatchObject({ code: "too_many_rows", details: { rows: 10_001, max: 10_000 } });
    expect((await all(key)).total).toBe(0);
  });
});

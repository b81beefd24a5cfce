/**
 * GET /messages: the project's messages, newest first, by cursor, with
 * filters. Messages are made the real way where the route exists (sends
 * through the API, received ones through the number's fleet socket); rows
 * sharing one created_at, which no real path makes on demand, are written
 * to D1 directly.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { searchStatements } from "../../edge/db/message-lists.ts";
import { call, connectedFleet, deliver, inboundMessage, messageOf, newInstance, newProject, noPacing, projectWithNumber, useFleetSockets, waitFor, walk } from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "+5511988887777";
const CUSTOMER_JID = "5511988887777@s.whatsapp.net";
const OTHER_JID = "5511977776666@s.whatsapp.net";

const get = (key: string, query: string) => call(`/messages${query}`, { token: key });
const ids = (res: { json: any }) => res.json.data.map((m: any) => m.id);
/** Sends, a few milliseconds apart so created_at orders them as sent (ties are tested on their own). */
async function send(key: string, type: string, body: Record<string, unknown>) {
  await new Promise((r) => setTimeout(r, 5));
  return call(`/messages/${type}`, { method: "POST", token: key, body });
}

/** A message row as the status machine would have left it, at a chosen created_at. */
async function insertRow(projectId: string, row: { id: string; instance_id: string; chat_jid: string; status: string; created_at: string; direction?: string }) {
  await env.DB.prepare(
    "INSERT INTO messages (id, project_id, instance_id, chat_jid, direction, type, content, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'text', ?, ?, ?, ?)",
  )
    .bind(row.id, projectId, row.instance_id, row.chat_jid, row.direction ?? "outbound", JSON.stringify({ body: row.id }), row.status, row.created_at, row.created_at)
    .run();
}

describe("finding a message still waiting to leave", () => {
  it("finds a queued message by status=queued and by its recipient in another spelling", async () => {
    const { key, id } = await projectWithNumber();
    // No fleet runs the number: what is sent stays queued.
    const waiting = await send(key, "text", { to: CUSTOMER, body: "Seu pedido saiu", reference: "order-981", instance_id: id });
    expect(waiting.status).toBe(202);
    const other = await send(key, "text", { to: OTHER_JID, body: "Outro", instance_id: id });
    expect(other.status, JSON.stringify(other.json)).toBe(202);

    const queued = await get(key, "?status=queued");
    expect(queued.status).toBe(200);
    expect(ids(queued)).toEqual([other.json.id, waiting.json.id]);
    expect(queued.json.next_cursor).toBeNull();
    // The item is GET /messages/{id} without its history and edits (edited_at stays).
    const { history, edits, ...one } = await messageOf(key, waiting.json.id);
    expect(history).toHaveLength(1);
    expect(edits).toEqual([]);
    expect(queued.json.data[1]).toEqual(one);
    expect(one.edited_at).toBeNull();
    expect(queued.json.data[1]).toMatchObject({ status: "queued", instance_id: id, chat_jid: CUSTOMER_JID, reference: "order-981", wa_message_id: null });

    // The same person, however written: E.164, 00, the 8-digit Brazilian form, the JID.
    for (const to of [CUSTOMER, "005511988887777", "+551188887777", CUSTOMER_JID, "551188887777@s.whatsapp.net"]) {
      const found = await get(key, `?to=${encodeURIComponent(to)}`);
      expect(found.status, to).toBe(200);
      expect(ids(found), to).toEqual([waiting.json.id]);
    }
    // A national number, under the project's default country.
    await call("/settings", { method: "PATCH", token: key, body: { default_country: "BR" } });
    expect(ids(await get(key, `?to=${encodeURIComponent("(11) 98888-7777")}&status=queued`))).toEqual([waiting.json.id]);
    expect(ids(await get(key, "?status=sent"))).toEqual([]);
  });

  it("finds a LID's messages by the phone WhatsApp said it stands for, and the other way round", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const LID = "123456789012345@lid";
    await env.DB.prepare("INSERT INTO lid_map (project_id, lid, pn) VALUES (?, ?, ?)").bind(projectId, LID, CUSTOMER_JID).run();
    const toLid = await send(key, "text", { to: LID, body: "Oi", instance_id: id });
    const toPhone = await send(key, "text", { to: CUSTOMER, body: "Oi de novo", instance_id: id });
    expect(ids(await get(key, `?to=${encodeURIComponent("+551188887777")}`))).toEqual([toPhone.json.id, toLid.json.id]);
    expect(ids(await get(key, `?to=${encodeURIComponent(LID)}`))).toEqual([toPhone.json.id, toLid.json.id]);
  });
});

describe("filters", () => {
  it("filters by status, instance, direction, chat, reference, type and time, each and combined", async () => {
    const { api_key: key } = await newProject();
    await noPacing(key);
    const a = await newInstance(key, "a");
    const b = await newInstance(key, "b");
    const fleet = await connectedFleet(a.id, { onWhatsApp: { "5511988887777": CUSTOMER_JID } });

    const received = await deliver(fleet.socket, inboundMessage(CUSTOMER_JID, { body: "Quero comprar" }));
    const text = await send(key, "text", { to: CUSTOMER, body: "Claro!", reference: "t-1", instance_id: a.id });
    const place = await send(key, "location", { to: OTHER_JID, latitude: -30.03, longitude: -51.23, reference: "t-2", instance_id: a.id });
    await waitFor(async () => (await messageOf(key, place.json.id)).status === "sent", 3_000, "sent");
    await waitFor(async () => (await messageOf(key, text.json.id)).status === "sent", 3_000, "sent");
    // Number b has no fleet: its send waits.
    const waiting = await send(key, "text", { to: OTHER_JID, body: "Depois", reference: "t-1", instance_id: b.id });

    const all = await get(key, "");
    expect(ids(all)).toEqual([waiting.json.id, place.json.id, text.json.id, received.message_id]);

    expect(ids(await get(key, "?status=sent"))).toEqual([place.json.id, text.json.id]);
    expect(ids(await get(key, "?status=queued,received"))).toEqual([waiting.json.id, received.message_id]);
    expect(ids(await get(key, "?status=queued&status=received"))).toEqual([waiting.json.id, received.message_id]);
    expect(ids(await get(key, `?instance_id=${b.id}`))).toEqual([waiting.json.id]);
    expect(ids(await get(key, "?direction=inbound"))).toEqual([received.message_id]);
    expect(ids(await get(key, "?direction=outbound"))).toEqual([waiting.json.id, place.json.id, text.json.id]);
    expect(ids(await get(key, `?to=${CUSTOMER_JID}`))).toEqual([text.json.id, received.message_id]);
    expect(ids(await get(key, "?reference=t-1"))).toEqual([waiting.json.id, text.json.id]);
    expect(ids(await get(key, "?type=location"))).toEqual([place.json.id]);

    const at = (await messageOf(key, place.json.id)).created_at as string;
    expect(ids(await get(key, `?since=${at}`))).toEqual([waiting.json.id, place.json.id]);
    expect(ids(await get(key, `?until=${at}`))).toEqual([text.json.id, received.message_id]);
    // Any offset names the same instant.
    const later = new Date(Date.parse(at) + 1).toISOString().replace("Z", "+00:00");
    expect(ids(await get(key, `?since=${encodeURIComponent(later)}`))).toEqual([waiting.json.id]);

    // Combined: every filter must hold.
    expect(ids(await get(key, `?to=${CUSTOMER_JID}&direction=outbound`))).toEqual([text.json.id]);
    expect(ids(await get(key, `?reference=t-1&status=sent`))).toEqual([text.json.id]);
    expect(ids(await get(key, `?to=${OTHER_JID}&status=sent,queued&instance_id=${b.id}`))).toEqual([waiting.json.id]);
    expect(ids(await get(key, `?to=${CUSTOMER_JID}&type=location`))).toEqual([]);
    expect(ids(await get(key, `?status=received&until=${at}&direction=inbound&instance_id=${a.id}`))).toEqual([received.message_id]);
  });

  it("shows an OTP with its code masked, as GET /messages/{id} does", async () => {
    const { key, id } = await projectWithNumber();
    const otp = await send(key, "otp", { to: CUSTOMER, code: "738291", instance_id: id });
    expect(otp.status).toBe(202);
    const res = await get(key, "?type=otp");
    expect(ids(res)).toEqual([otp.json.id]);
    expect(JSON.stringify(res.json)).not.toContain("738291");
    expect(res.json.data[0].content).toEqual((await messageOf(key, otp.json.id)).content);
  });
});

describe("order and paging", () => {
  it("pages newest first, each message once, through rows sharing one created_at", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const tie = "2026-07-01T12:00:00.000Z";
    const rows = [
      { id: "m-a", created_at: "2026-07-01T12:00:01.000Z", status: "sent" },
      ...["m-b", "m-c", "m-d", "m-e", "m-f", "m-g"].map((mid, i) => ({ id: mid, created_at: tie, status: i % 2 ? "queued" : "sent" })),
      { id: "m-h", created_at: "2026-07-01T11:59:59.000Z", status: "queued" },
    ];
    for (const row of rows) await insertRow(projectId, { ...row, instance_id: id, chat_jid: CUSTOMER_JID });
    const newestFirst = ["m-a", "m-g", "m-f", "m-e", "m-d", "m-c", "m-b", "m-h"];

    for (const limit of [1, 2, 3, 5]) {
      const { seen, pages } = await walk(key, "/messages", limit);
      expect(seen.map((m) => m.id), `limit ${limit}`).toEqual(newestFirst);
      expect(pages).toBe(Math.ceil(8 / limit));
    }
    // Several statuses (one read per status, merged) page the same way.
    const { seen } = await walk(key, "/messages?status=queued,sent", 2);
    expect(seen.map((m) => m.id)).toEqual(newestFirst);
    const { seen: queued } = await walk(key, `/messages?status=queued&to=${encodeURIComponent(CUSTOMER)}`, 1);
    expect(queued.map((m) => m.id)).toEqual(["m-g", "m-e", "m-c", "m-h"]);
  });

  it("reads each filter's rows off an index, newest first, without sorting the whole project", async () => {
    const d1 = db(env.DB);
    const after = { at: "2026-07-01T12:00:00.000Z", id: "m-x" };
    const plans = async (filter: Parameters<typeof searchStatements>[2]) => {
      const out: string[] = [];
      for (const statement of searchStatements(d1, "p", filter, { limit: 51, after })) {
        const { sql, params } = statement.toSQL();
        const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
        out.push(results.map((r) => r.detail).join(" | "));
      }
      return out;
    };
    const expectIndexed = (details: string[], index: string) => {
      for (const detail of details) {
        expect(detail).toContain(`USING INDEX ${index}`);
        // Only ties on created_at are sorted (by id), never the whole match.
        expect(detail).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
      }
    };
    expectIndexed(await plans({}), "messages_project");
    expectIndexed(await plans({ statuses: ["queued"] }), "messages_status");
    expectIndexed(await plans({ statuses: ["queued", "failed"], instance_id: "i", since: "2026-01-01T00:00:00.000Z" }), "messages_status");
    const window = { since: "2026-01-01T00:00:00.000Z", until: "2026-08-01T00:00:00.000Z" };
    expectIndexed(await plans({ chat_jids: [CUSTOMER_JID, "551188887777@s.whatsapp.net"], statuses: ["queued", "sent"] }), "messages_chat");
    expectIndexed(await plans({ chat_jids: [CUSTOMER_JID], instance_id: "i", ...window }), "messages_chat");
    expectIndexed(await plans({ reference: "order-981" }), "messages_reference");
    expectIndexed(await plans({ reference: "order-981", direction: "outbound", ...window }), "messages_reference");
    expect(await plans({ statuses: ["queued", "failed"] })).toHaveLength(2);
  });
});

describe("scoping and bad input", () => {
  it("never shows another project's messages", async () => {
    const mine = await projectWithNumber();
    const theirs = await projectWithNumber();
    const own = await send(mine.key, "text", { to: CUSTOMER, body: "meu", instance_id: mine.id });
    const foreign = await send(theirs.key, "text", { to: CUSTOMER, body: "deles", reference: "shared-ref", instance_id: theirs.id });
    expect(foreign.status).toBe(202);
    expect(ids(await get(mine.key, ""))).toEqual([own.json.id]);
    expect(ids(await get(mine.key, `?to=${encodeURIComponent(CUSTOMER)}&status=queued`))).toEqual([own.json.id]);
    expect(ids(await get(mine.key, "?reference=shared-ref"))).toEqual([]);
    expect(ids(await get(mine.key, `?instance_id=${theirs.id}`))).toEqual([]);
    expect(ids(await get(theirs.key, ""))).toEqual([foreign.json.id]);
  });

  it("answers 400 naming the field for each bad filter", async () => {
    const { key } = await projectWithNumber();
    const cases: [string, string, string?][] = [
      ["status=bogus", "status"],
      ["status=queued,nope", "status"],
      ["status=,", "status"],
      ["cursor=not-a-cursor", "cursor"],
      [`cursor=${btoa("[1,2]")}`, "cursor"],
      ["since=yesterday", "since"],
      ["until=2026-13-01T00:00:00Z", "until"],
      ["limit=0", "limit"],
      ["limit=201", "limit"],
      ["limit=ten", "limit"],
      ["to=not-a-phone", "to"],
      ["to=someone@example.com", "to"],
      // A national number while the project has no default country.
      [`to=${encodeURIComponent("(11) 98888-7777")}`, "to", "country_code_required"],
      ["direction=sideways", "direction"],
      ["type=fax", "type"],
    ];
    for (const [query, field, code = "invalid_request"] of cases) {
      const res = await get(key, `?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.error, query).toMatchObject({ code, details: { field } });
    }
  });

  it("is listed in the OpenAPI document with its filters", async () => {
    const doc = (await call("/openapi.json")).json;
    const op = doc.paths["/messages"].get;
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual(
      ["cursor", "direction", "instance_id", "limit", "reference", "since", "status", "to", "type", "until"],
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "401"]));
  });
});

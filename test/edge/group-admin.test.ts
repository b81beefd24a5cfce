/**
 * Administering WhatsApp groups at `/groups` and the group events, on the
 * edge: real D1, Durable Objects and queues, with a fleet WebSocket speaking
 * the real protocol that answers `groups.*` as the fleet does (its side,
 * Baileys' group functions included, is tested around the socket in
 * test/fleet/group-admin.test.ts: the loopback peer has no groups).
 */
import { describe, expect, it } from "vitest";
import { SALES, salesGroup } from "../shared/whatsapp-groups.ts";
import { call, connectedFleet, deliver, eventsUntil, fail, inboundMessage, newInstance, projectWithNumber, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "5511955556666@s.whatsapp.net";
const CUSTOMER_LID = "444444444444444@lid";
const ADMIN = "5511911112222@s.whatsapp.net";

type Asked = { method: string; params: any };

/**
 * A fleet whose number is an admin of the sales group (a plain member: `admin: false`; not in it: `member: false`),
 * recording what it was asked to do (reading the group, `groups.get`, is not recorded).
 */
async function adminFleet(instanceId: string, opts: { admin?: boolean; member?: boolean; fleetId?: string } = {}) {
  const asked: Asked[] = [];
  const admin = opts.admin ?? true;
  const inSales = (params: any, answer: () => unknown) => {
    asked.push({ method: "?", params });
    if (params.jid !== SALES) return fail("not_group_member", `this number is not in the group ${params.jid}`);
    if (!admin) return fail("not_group_admin", `this number is not an admin of the group ${params.jid}`);
    return answer();
  };
  const record = (method: string, fn: (params: any) => unknown) => (params: any) => {
    const answer = fn(params);
    asked.at(-1)!.method = method;
    return answer;
  };
  const fleet = await connectedFleet(instanceId, {
    fleetId: opts.fleetId,
    onWhatsApp: { "5511955556666": CUSTOMER, "5511977778888": "5511977778888@s.whatsapp.net" },
    methods: {
      "groups.get": (params) =>
        params.jid === SALES && opts.member !== false ? { group: salesGroup } : fail("group_not_found", `this number is not in the group ${params.jid}`),
      "groups.create": (params) => {
        asked.push({ method: "groups.create", params });
        return { group: { ...salesGroup, subject: params.subject } };
      },
      "groups.update": record("groups.update", (params) => inSales(params, () => ({ group: { ...salesGroup, subject: params.changes.subject ?? salesGroup.subject } }))),
      "groups.participants": record("groups.participants", (params) =>
        inSales(params, () => ({
          results: params.participants.map((jid: string, i: number) =>
            i === 0 ? { jid, outcome: "ok", status: 200 } : { jid, outcome: "privacy_restricted", status: 403 },
          ),
        })),
      ),
      "groups.invite": record("groups.invite", (params) => inSales(params, () => ({ code: params.revoke ? "NeWcOdE4567" : "AbCdEf12345" }))),
      "groups.join": (params) => {
        asked.push({ method: "groups.join", params });
        return params.code === "AbCdEf12345" ? { jid: SALES } : fail("invite_invalid", "the invite is not valid (revoked, expired or mistyped)");
      },
      "groups.leave": (params) => {
        asked.push({ method: "groups.leave", params });
        return params.jid === SALES ? {} : fail("not_group_member", `this number is not in the group ${params.jid}`);
      },
    },
  });
  return { ...fleet, asked };
}

const send = (key: string, method: string, path: string, body?: object) => call(path, { method, token: key, body });

describe("administering WhatsApp groups at /groups", () => {
  it("POST /groups creates a group through the named number, participants as phones in any form or JIDs, canonical", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await adminFleet(id);
    const res = await send(key, "POST", "/groups", {
      instance_id: id,
      subject: "Lançamento",
      participants: ["+55 11 95555-6666", "5511977778888@s.whatsapp.net", CUSTOMER_LID, "5511955556666:2@s.whatsapp.net"],
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ ...salesGroup, subject: "Lançamento", instance_id: id });
    expect(fleet.asked).toEqual([
      { method: "groups.create", params: { subject: "Lançamento", participants: [CUSTOMER, "5511977778888@s.whatsapp.net", CUSTOMER_LID] } },
    ]);
  });

  it("PATCH /groups/{jid} sends subject, description and both settings under WhatsApp's names, and answers the group with the number that did it", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await adminFleet(id);
    const res = await send(key, "PATCH", `/groups/${SALES}`, {
      instance_id: id,
      subject: "Vendas RJ",
      description: "",
      only_admins_send: true,
      only_admins_edit: false,
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ...salesGroup, subject: "Vendas RJ", instance_id: id });
    expect(fleet.asked).toEqual([
      { method: "groups.update", params: { jid: SALES, changes: { subject: "Vendas RJ", description: null, announce: true, restrict: false } } },
    ]);
  });

  it("POST /groups/{jid}/participants takes exactly one action and answers WhatsApp's result per person", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await adminFleet(id);
    const res = await send(key, "POST", `/groups/${SALES}/participants`, { instance_id: id, add: ["+5511955556666", "+55 (11) 97777-8888"] });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      action: "add",
      instance_id: id,
      results: [
        { jid: CUSTOMER, outcome: "ok", status: 200 },
        { jid: "5511977778888@s.whatsapp.net", outcome: "privacy_restricted", status: 403 },
      ],
    });
    expect(fleet.asked).toEqual([
      { method: "groups.participants", params: { jid: SALES, action: "add", participants: [CUSTOMER, "5511977778888@s.whatsapp.net"] } },
    ]);
    const promote = await send(key, "POST", `/groups/${SALES}/participants`, { instance_id: id, promote: [CUSTOMER] });
    expect(promote.json.action).toBe("promote");
    expect(fleet.asked.at(-1)!.params.action).toBe("promote");
  });

  it("invites: GET answers the link, DELETE revokes it and answers the new one; POST /groups/join takes a code or a link; leave", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await adminFleet(id);
    const link = await call(`/groups/${SALES}/invite?instance_id=${id}`, { token: key });
    expect(link.status).toBe(200);
    expect(link.json).toEqual({ jid: SALES, code: "AbCdEf12345", url: "https://chat.whatsapp.com/AbCdEf12345", instance_id: id });
    const revoked = await send(key, "DELETE", `/groups/${SALES}/invite?instance_id=${id}`);
    expect(revoked.json).toEqual({ jid: SALES, code: "NeWcOdE4567", url: "https://chat.whatsapp.com/NeWcOdE4567", instance_id: id });

    for (const invite of ["AbCdEf12345", "https://chat.whatsapp.com/AbCdEf12345", "https://chat.whatsapp.com/invite/AbCdEf12345"]) {
      const joined = await send(key, "POST", "/groups/join", { instance_id: id, invite });
      expect(joined.status, invite).toBe(200);
      expect(joined.json).toEqual({ jid: SALES, instance_id: id });
    }
    const stale = await send(key, "POST", "/groups/join", { instance_id: id, invite: "https://chat.whatsapp.com/ReVoKeD99999" });
    expect(stale.status).toBe(404);
    expect(stale.json.error).toMatchObject({ code: "invite_invalid", details: { field: "invite" } });

    const left = await send(key, "POST", `/groups/${SALES}/leave`, { instance_id: id });
    expect(left.status).toBe(200);
    expect(left.json).toEqual({ jid: SALES, instance_id: id, left: true });
    expect(fleet.asked.map((a) => [a.method, a.params])).toEqual([
      ["groups.invite", { jid: SALES, revoke: false }],
      ["groups.invite", { jid: SALES, revoke: true }],
      ["groups.join", { code: "AbCdEf12345" }],
      ["groups.join", { code: "AbCdEf12345" }],
      ["groups.join", { code: "AbCdEf12345" }],
      ["groups.join", { code: "ReVoKeD99999" }],
      ["groups.leave", { jid: SALES }],
    ]);
  });

  it("without instance_id, the connected number seen in the group drives it, else one WhatsApp says is in it; none is 404 naming jid", async () => {
    const { key, id } = await projectWithNumber();
    const other = await newInstance(key, "n2");
    const third = await newInstance(key, "n3");
    const bystander = await adminFleet(other.id, { fleetId: "fleet-bystander", member: false });
    // A number WhatsApp says is in the group, though nothing was heard there yet (it just created it).
    await connectedFleet(third.id, {
      fleetId: "fleet-creator",
      methods: {
        "groups.get": (params) => (params.jid === SALES ? { group: salesGroup } : fail("group_not_found", `WhatsApp has no group ${params.jid}`)),
        "groups.update": () => ({ group: salesGroup }),
      },
    });
    const first = await send(key, "PATCH", `/groups/${SALES}`, { subject: "Vendas RJ" });
    expect(first.status).toBe(200);
    expect(first.json.instance_id).toBe(third.id);
    const OTHER = "120363000000000099@g.us";
    const none = await send(key, "PATCH", `/groups/${OTHER}`, { subject: "Vendas RJ" });
    expect(none.status).toBe(404);
    expect(none.json.error).toMatchObject({ code: "not_found", details: { field: "jid" } });

    // Heard from the group: that number drives it, nobody is asked.
    const member = await adminFleet(id, { fleetId: "fleet-member" });
    await deliver(member.socket, inboundMessage(SALES, { sender_jid: ADMIN, body: "bom dia" }));
    const res = await send(key, "PATCH", `/groups/${SALES}`, { subject: "Vendas RJ" });
    expect(res.status).toBe(200);
    expect(res.json.instance_id).toBe(id);
    expect(member.asked.map((a) => a.method)).toEqual(["groups.update"]);
    expect(bystander.asked).toEqual([]);
  });
});

describe("administering WhatsApp groups: refusals", () => {
  it("a number that is not an admin gets 403 not_group_admin naming instance_id; one not in the group, 409 not_group_member", async () => {
    const { key, id } = await projectWithNumber();
    await adminFleet(id, { admin: false });
    const attempts = [
      send(key, "PATCH", `/groups/${SALES}`, { instance_id: id, only_admins_send: true }),
      send(key, "POST", `/groups/${SALES}/participants`, { instance_id: id, remove: [CUSTOMER] }),
      call(`/groups/${SALES}/invite?instance_id=${id}`, { token: key }),
      send(key, "DELETE", `/groups/${SALES}/invite?instance_id=${id}`),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ code: "not_group_admin", details: { field: "instance_id" } });
    }
    const OTHER = "120363000000000099@g.us";
    const notIn = await send(key, "PATCH", `/groups/${OTHER}`, { instance_id: id, subject: "x" });
    expect(notIn.status).toBe(409);
    expect(notIn.json.error).toMatchObject({ code: "not_group_member", details: { field: "instance_id" } });
    expect((await send(key, "POST", `/groups/${OTHER}/leave`, { instance_id: id })).json.error.code).toBe("not_group_member");
  });

  it("another project's number or group is 404; bad input is 400 naming the field and never reaches the fleet", async () => {
    const { key, id } = await projectWithNumber();
    const theirs = await projectWithNumber();
    const fleet = await adminFleet(id, { member: false });
    const theirFleet = await adminFleet(theirs.id, { fleetId: "fleet-theirs" });
    await deliver(theirFleet.socket, inboundMessage(SALES, { sender_jid: ADMIN }));
    // Their number is in the group; nobody of ours is known there.
    const notOurs = await send(key, "POST", `/groups/${SALES}/participants`, { add: [CUSTOMER] });
    expect(notOurs.status).toBe(404);
    expect(notOurs.json.error.details.field).toBe("jid");
    for (const [method, path, body] of [
      ["PATCH", `/groups/${SALES}`, { instance_id: theirs.id, subject: "x" }],
      ["POST", "/groups", { instance_id: theirs.id, subject: "x", participants: [] }],
      ["POST", "/groups/join", { instance_id: theirs.id, invite: "AbCdEf12345" }],
      ["POST", `/groups/${SALES}/leave`, { instance_id: theirs.id }],
    ] as const) {
      const res = await send(key, method, path, body);
      expect(res.status, path).toBe(404);
      expect(res.json.error).toMatchObject({ code: "not_found", details: { field: "instance_id" } });
    }

    const bad: [string, string, object, string][] = [
      ["POST", "/groups", { instance_id: id, subject: "x", participants: ["not a phone"] }, "participants.0"],
      ["POST", "/groups", { instance_id: id, subject: "x", participants: [SALES] }, "participants.0"],
      ["POST", "/groups", { instance_id: id, subject: "", participants: [] }, "subject"],
      ["POST", "/groups", { subject: "x", participants: [] }, "instance_id"],
      ["PATCH", `/groups/${SALES}`, { instance_id: id }, "subject"],
      ["PATCH", `/groups/${SALES}`, { instance_id: id, only_admins_send: "yes" }, "only_admins_send"],
      ["POST", `/groups/${SALES}/participants`, { instance_id: id, add: ["12"] }, "add.0"],
      ["POST", `/groups/${SALES}/participants`, { instance_id: id, add: [CUSTOMER], remove: [CUSTOMER] }, "remove"],
      ["POST", `/groups/${SALES}/participants`, { instance_id: id }, "add"],
      ["POST", `/groups/${SALES}/participants`, { instance_id: id, demote: [] }, "demote"],
      ["POST", "/groups/join", { instance_id: id, invite: "https://example.com/AbCdEf12345" }, "invite"],
      ["PATCH", "/groups/vendas@g.us", { instance_id: id, subject: "x" }, "jid"],
    ];
    for (const [method, path, body, field] of bad) {
      const res = await send(key, method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.json.error.details.field, `${method} ${path} ${JSON.stringify(body)}`).toBe(field);
    }
    expect(fleet.asked).toEqual([]);
  });
});

describe("group events", () => {
  it("group.updated and group.participants reach SSE and webhooks with the documented payload, LIDs as phones when known", async () => {
    const { key, id } = await projectWithNumber();
    const name = `groups-${crypto.randomUUID().slice(0, 8)}`;
    const hook = await send(key, "POST", "/webhooks", { url: `http://hooks.test/${name}`, events: ["group.*"] });
    expect(hook.status).toBe(201);
    const { socket } = await connectedFleet(id);
    socket.event("lid.mappings", { mappings: [{ lid: CUSTOMER_LID, pn: CUSTOMER }] });
    socket.event("group.updated", { jid: SALES, subject: "Vendas RJ", announce: true, by: "111111111111111@lid" });
    socket.event("group.updated", { jid: SALES, description: null, restrict: false, by: ADMIN });
    socket.event("group.participants", { jid: SALES, action: "added", participants: [CUSTOMER_LID, "5511977778888@s.whatsapp.net"], by: ADMIN });
    socket.event("group.participants", { jid: SALES, action: "removed", participants: [CUSTOMER], by: CUSTOMER });

    const groupEvents = (events: any[]) => events.filter((e) => e.type.startsWith("group."));
    const events = groupEvents(await eventsUntil(key, (e) => groupEvents(e).length >= 4));
    expect(events.map(({ type, instance_id, payload }) => ({ type, instance_id, payload }))).toEqual([
      { type: "group.updated", instance_id: id, payload: { jid: SALES, subject: "Vendas RJ", only_admins_send: true, by: "111111111111111@lid" } },
      { type: "group.updated", instance_id: id, payload: { jid: SALES, description: null, only_admins_edit: false, by: ADMIN } },
      { type: "group.participants", instance_id: id, payload: { jid: SALES, action: "added", participants: [CUSTOMER, "5511977778888@s.whatsapp.net"], by: ADMIN } },
      { type: "group.participants", instance_id: id, payload: { jid: SALES, action: "removed", participants: [CUSTOMER], by: CUSTOMER } },
    ]);
    const delivered = async () => (await (await fetch(`http://hooks.test/__log/${name}`)).json()) as { body: string }[];
    await waitFor(async () => (await delivered()).length >= 4, 8_000, "four webhook deliveries");
    expect((await delivered()).map((h) => JSON.parse(h.body))).toEqual(events);
  });
});

describe("the API document", () => {
  it("describes every group route, with its errors, behind a project key", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(Object.keys(doc.paths["/groups"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/groups/{jid}"]).sort()).toEqual(["get", "patch"]);
    expect(Object.keys(doc.paths["/groups/{jid}/invite"]).sort()).toEqual(["delete", "get"]);
    expect(doc.paths["/groups/{jid}/participants"].post.responses["403"]).toBeDefined();
    expect(doc.paths["/groups/join"].post).toBeDefined();
    expect(doc.paths["/groups/{jid}/leave"].post).toBeDefined();
    expect(doc.components.schemas.WhatsAppGroupUpdate.properties.only_admins_send).toBeDefined();
    expect(Object.keys(doc.webhooks)).toEqual(expect.arrayContaining(["group.updated", "group.participants"]));
    for (const [method, path] of [
      ["POST", "/groups"],
      ["PATCH", `/groups/${SALES}`],
      ["POST", `/groups/${SALES}/participants`],
      ["GET", `/groups/${SALES}/invite`],
      ["POST", "/groups/join"],
    ]) {
      expect((await call(path!, { method: method! })).status).toBe(401);
    }
  });
});

describe("received group messages", () => {
  it("carry group {jid, subject} and the participant as sender; the subject is asked of the number once per group, then follows group.updated", async () => {
    const { key, id } = await projectWithNumber();
    const asked: string[] = [];
    const { socket } = await connectedFleet(id, {
      methods: {
        "groups.get": (params) => {
          asked.push(params.jid);
          return { group: salesGroup };
        },
      },
    });
    await deliver(socket, inboundMessage(SALES, { sender_jid: ADMIN, push_name: "Ana", body: "bom dia" }));
    await deliver(socket, inboundMessage(SALES, { sender_jid: CUSTOMER, push_name: "Caio", body: "oi" }));
    socket.event("group.updated", { jid: SALES, subject: "Vendas RJ", by: ADMIN });
    await eventsUntil(key, (e) => e.some((x: any) => x.type === "group.updated"));
    await deliver(socket, inboundMessage(SALES, { sender_jid: ADMIN, body: "novo nome" }));
    // A one-to-one message has no group.
    await deliver(socket, inboundMessage(CUSTOMER, { body: "direto" }));

    const received = (events: any[]) => events.filter((e) => e.type === "message.received");
    const events = received(await eventsUntil(key, (e) => received(e).length >= 4));
    expect(events.map((e) => [e.sender.jid, e.payload.from, e.payload.group])).toEqual([
      [ADMIN, SALES, { jid: SALES, subject: "Vendas SP" }],
      [CUSTOMER, SALES, { jid: SALES, subject: "Vendas SP" }],
      [ADMIN, SALES, { jid: SALES, subject: "Vendas RJ" }],
      [CUSTOMER, CUSTOMER, undefined],
    ]);
    expect(asked).toEqual([SALES]);
  });
});

/**
 * WhatsApp groups (chat rooms) at `/groups`, and sends to a group, on the
 * edge: real D1 and Durable Objects, with a fleet WebSocket speaking the
 * real protocol that answers `groups.list` / `groups.get` as the fleet's
 * connection manager does (its side is tested around the socket in
 * test/fleet/groups.test.ts: the loopback peer has no groups).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SALES, salesGroup } from "../shared/whatsapp-groups.ts";
import { call, connectedFleet, deliver, fail, inboundMessage, messageOf, newInstance, projectWithNumber, waitFor } from "./helpers.ts";

const OTHER = "120363000000000099@g.us";

/** A fleet for the number that is in the sales group only, recording what it was asked. */
async function groupFleet(instanceId: string) {
  const asked: { method: string; params: unknown }[] = [];
  const fleet = await connectedFleet(instanceId, {
    methods: {
      "groups.list": (params) => {
        asked.push({ method: "groups.list", params });
        return { groups: [salesGroup] };
      },
      "groups.get": (params) => {
        asked.push({ method: "groups.get", params });
        return params.jid === SALES ? { group: salesGroup } : fail("group_not_found", `this number is not in the group ${params.jid}`);
      },
    },
  });
  return { ...fleet, asked };
}

describe("WhatsApp groups at /groups", () => {
  it("lists the groups a number is in, with participants and settings, as the number's fleet answers them", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await groupFleet(id);
    const res = await call(`/groups?instance_id=${id}`, { token: key });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ data: [salesGroup] });
    expect(fleet.asked).toEqual([{ method: "groups.list", params: {} }]);
  });

  it("gets one group by its JID; a group the number is not in is 404 naming jid", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await groupFleet(id);
    const one = await call(`/groups/${SALES}?instance_id=${id}`, { token: key });
    expect(one.status).toBe(200);
    expect(one.json).toEqual(salesGroup);

    const missing = await call(`/groups/${OTHER}?instance_id=${id}`, { token: key });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: "not_found", message: `this number is not in the group ${OTHER}`, details: { field: "jid" } });
    expect(fleet.asked.map((a) => a.params)).toEqual([{ jid: SALES }, { jid: OTHER }]);
  });

  it("bad input is a 400 naming the field, and never reaches the fleet", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await groupFleet(id);
    const noNumber = await call("/groups", { token: key });
    expect(noNumber.status).toBe(400);
    expect(noNumber.json.error).toMatchObject({ code: "invalid_request", details: { field: "instance_id" } });
    const noNumberOne = await call(`/groups/${SALES}`, { token: key });
    expect(noNumberOne.json.error.details.field).toBe("instance_id");

    for (const jid of ["5511988887777@s.whatsapp.net", "vendas@g.us", "120363041234567890"]) {
      const res = await call(`/groups/${encodeURIComponent(jid)}?instance_id=${id}`, { token: key });
      expect(res.status, jid).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", details: { field: "jid" } });
    }
    expect(fleet.asked).toEqual([]);
  });

  it("another project's number, or no such number, is 404 naming instance_id", async () => {
    const { key } = await projectWithNumber();
    const theirs = await projectWithNumber();
    const fleet = await groupFleet(theirs.id);
    for (const path of [`/groups?instance_id=${theirs.id}`, `/groups/${SALES}?instance_id=${theirs.id}`, "/groups?instance_id=nope"]) {
      const res = await call(path, { token: key });
      expect(res.status, path).toBe(404);
      expect(res.json.error).toMatchObject({ code: "not_found", details: { field: "instance_id" } });
    }
    expect(fleet.asked).toEqual([]);
  });

  it("a number no fleet runs is 409 fleet_unavailable; a number whose WhatsApp socket is down is 409 not_connected", async () => {
    const { key, id } = await projectWithNumber();
    const idle = await call(`/groups?instance_id=${id}`, { token: key });
    expect(idle.status).toBe(409);
    expect(idle.json.error.code).toBe("fleet_unavailable");

    await connectedFleet(id, { methods: { "groups.get": () => fail("not_connected", "the number is connecting") } });
    const down = await call(`/groups/${SALES}?instance_id=${id}`, { token: key });
    expect(down.status).toBe(409);
    expect(down.json.error.code).toBe("not_connected");
  });
});

describe("the API document", () => {
  it("describes WhatsApp groups and the WhatsApp block list apart from contact groups and suppression, all behind a project key", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(Object.keys(doc.paths["/groups"]).sort()).toEqual(["get", "post"]);
    expect(doc.paths["/groups/{jid}"].get.parameters.map((p: any) => p.name).sort()).toEqual(["instance_id", "jid"]);
    expect(doc.paths["/contacts/{jid}/block"].post.tags).toEqual(["WhatsApp block list"]);
    expect(doc.paths["/contacts/{jid}/unblock"].post.requestBody.required).toBe(false);
    expect(doc.components.schemas.WhatsAppGroup.properties.participants.items.properties.admin).toBeDefined();
    expect(doc.paths["/groups"].get.tags).not.toEqual(doc.paths["/contact-groups"]?.get?.tags);
    for (const path of ["/groups", `/groups/${SALES}`]) expect((await call(path)).status).toBe(401);
    expect((await call(`/contacts/${encodeURIComponent("5511988887777@s.whatsapp.net")}/block`, { method: "POST" })).status).toBe(401);
  });
});

describe("sending to a WhatsApp group", () => {
  const send = (key: string, type: string, body: object) => call(`/messages/${type}`, { method: "POST", token: key, body });

  it("a send pinned to a number is queued to it with the group as chat, and reaches its fleet as message.send to the group, with no phone lookup", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const res = await send(key, "text", { to: SALES, body: "Bom dia, equipe!", instance_id: id });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: "queued", instance_id: id, chat_jid: SALES });

    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    expect(fleet.sends).toHaveLength(1);
    expect(fleet.sends[0]).toMatchObject({ message_id: res.json.id, chat_jid: SALES, content: { type: "text", text: "Bom dia, equipe!" } });
    expect(fleet.lookups).toEqual([]);
    expect(await messageOf(key, res.json.id)).toMatchObject({ chat_jid: SALES, instance_id: id, direction: "outbound" });
  });

  it("menus to a group go as numbered text (reference 003: in groups, text only)", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const res = await send(key, "buttons", {
      to: SALES,
      instance_id: id,
      body: "Quem vem amanhã?",
      buttons: [
        { id: "yes", title: "Eu vou" },
        { id: "no", title: "Não posso" },
      ],
    });
    expect(res.status).toBe(202);
    await waitFor(() => fleet.sends.length === 1, 3_000, "sent");
    expect(fleet.sends[0]!.chat_jid).toBe(SALES);
    expect(fleet.sends[0]!.content.type).toBe("text");
    expect(fleet.sends[0]!.content.text).toContain("Eu vou");
  });

  it("without instance_id, and no number of the project seen in the group, is 400 instance_id_required and nothing is queued", async () => {
    // Other projects' numbers have sent to this group (earlier tests): that says nothing about this project's.
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const res = await send(key, "text", { to: SALES, body: "oi" });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "instance_id_required", details: { field: "instance_id" } });
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE project_id = ? AND chat_jid = ?").bind(projectId, SALES).first<{ n: number }>();
    expect(stored?.n).toBe(0);
    expect(fleet.sends).toEqual([]);
  });

  it("without instance_id, goes through the connected number that heard from the group, not the one rotation would pick", async () => {
    const { key, projectId } = await projectWithNumber();
    await call("/settings", { method: "PATCH", token: key, body: { rotation: "least_used" } });
    const a = await newInstance(key, "n2");
    const ids = [a.id, (await env.DB.prepare("SELECT id FROM instances WHERE project_id = ? AND id != ?").bind(projectId, a.id).first<{ id: string }>())!.id].sort();
    // least_used breaks ties by id: rotation would pick ids[0]; the group's member is ids[1].
    const [rotationPick, member] = ids as [string, string];
    const other = await connectedFleet(rotationPick, { fleetId: "fleet-rot" });
    const inGroup = await connectedFleet(member, { fleetId: "fleet-mem" });
    await deliver(inGroup.socket, inboundMessage(SALES, { sender_jid: "5511911112222@s.whatsapp.net", body: "bom dia" }));

    const res = await send(key, "text", { to: SALES, body: "bom dia!" });
    expect(res.status).toBe(202);
    expect(res.json.instance_id).toBe(member);
    await waitFor(() => inGroup.sends.length === 1, 3_000, "sent by the member");
    expect(inGroup.sends[0]!.chat_jid).toBe(SALES);
    expect(other.sends).toEqual([]);
    // A one-to-one send still rotates as before.
    const direct = await send(key, "text", { to: "5511911112222@s.whatsapp.net", body: "oi", sticky: false });
    expect(direct.json.instance_id).toBe(rotationPick);

    // The member's number is down: nobody else is known to be in the group.
    inGroup.socket.event("status", { state: "disconnected", reason: "transient" });
    await waitFor(async () => (await call(`/instances/${member}`, { token: key })).json.state === "disconnected", 3_000, "member down");
    const later = await send(key, "text", { to: SALES, body: "alguém?" });
    expect(later.status).toBe(400);
    expect(later.json.error.code).toBe("instance_id_required");
  });
});

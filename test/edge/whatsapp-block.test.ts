/**
 * `POST /contacts/{jid}/block | unblock`: a number's own WhatsApp block list,
 * through its fleet, on the edge (real D1 and Durable Objects, a fleet
 * WebSocket on the real protocol answering `contacts.block` as the fleet's
 * connection manager does; its side is tested around the socket in
 * test/fleet/groups.test.ts: the loopback peer has no block list).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, connectedFleet, deliver, fail, inboundMessage, newInstance, projectWithNumber, waitFor } from "./helpers.ts";

const PHONE_JID = "5511988887777@s.whatsapp.net";
const onWhatsApp = { "5511988887777": PHONE_JID, "551188887777": PHONE_JID };

/** A fleet whose number keeps a block list, recording every change asked of it. */
async function blockingFleet(instanceId: string, fleetId?: string) {
  const asked: { jid: string; action: string }[] = [];
  const fleet = await connectedFleet(instanceId, {
    fleetId,
    onWhatsApp,
    methods: {
      "contacts.block": (params) => {
        asked.push(params);
        if (params.jid === "5511900000000@s.whatsapp.net") return fail("not_on_whatsapp", `Unable to resolve LID for PN JID: ${params.jid}`);
        return { jid: params.jid, blocked: params.action === "block" };
      },
    },
  });
  return { ...fleet, asked };
}

const block = (key: string, who: string, body?: object, action = "block") =>
  call(`/contacts/${encodeURIComponent(who)}/${action}`, { method: "POST", token: key, body });

const contactRow = (projectId: string) =>
  env.DB.prepare("SELECT id, status, opted_out_at FROM contacts WHERE project_id = ? AND jid = ?").bind(projectId, PHONE_JID).first<{ id: string; status: string; opted_out_at: string | null }>();

describe("blocking on WhatsApp (the number's block list, not CRM suppression)", () => {
  it("blocks and unblocks through the number that talks to the person; the timeline records it, the contact's CRM status is untouched", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await blockingFleet(id);
    await deliver(fleet.socket, inboundMessage(PHONE_JID, { body: "me tira dessa lista" }));

    const blocked = await block(key, PHONE_JID);
    expect(blocked.status).toBe(200);
    expect(blocked.json).toEqual({ jid: PHONE_JID, blocked: true, instance_id: id });
    const unblocked = await block(key, PHONE_JID, undefined, "unblock");
    expect(unblocked.json).toEqual({ jid: PHONE_JID, blocked: false, instance_id: id });
    expect(fleet.asked).toEqual([
      { jid: PHONE_JID, action: "block" },
      { jid: PHONE_JID, action: "unblock" },
    ]);
    const contact = await contactRow(projectId);
    expect(contact).toMatchObject({ status: "active", opted_out_at: null });
    // The timeline says what happened on WhatsApp, beside the message that came before.
    const history = (await call(`/contacts/${contact!.id}/history`, { token: key })).json.data;
    expect(history.map((e: any) => `${e.kind}:${e.type}`).sort()).toEqual(["event:whatsapp_blocked", "event:whatsapp_unblocked", "message:text"]);
    expect(history.find((e: any) => e.type === "whatsapp_blocked")).toMatchObject({ actor: "api", payload: { jid: PHONE_JID, instance_id: id } });
    const suppressed = await env.DB.prepare("SELECT COUNT(*) AS n FROM suppressions WHERE project_id = ?").bind(projectId).first<{ n: number }>();
    expect(suppressed?.n).toBe(0);
  });

  it("takes a +phone (resolved to its JID as a send does, 9th digit included), a JID with a device part, or the contact's id", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await blockingFleet(id);
    await deliver(fleet.socket, inboundMessage(PHONE_JID));
    const contact = (await contactRow(projectId))!;

    for (const who of ["+551188887777", "+55 (11) 98888-7777", "5511988887777:7@s.whatsapp.net", contact.id]) {
      const res = await block(key, who);
      expect(res.status, who).toBe(200);
      expect(res.json, who).toEqual({ jid: PHONE_JID, blocked: true, instance_id: id });
    }
    expect(fleet.asked.map((a) => a.jid)).toEqual([PHONE_JID, PHONE_JID, PHONE_JID, PHONE_JID]);
    // Each phone asked of WhatsApp once, both Brazilian forms at once, then remembered.
    expect(fleet.lookups.map((phones) => [...phones].sort())).toEqual([
      ["551188887777", "5511988887777"],
      ["551188887777", "5511988887777"],
    ]);
  });

  it("instance_id in the body picks the number whose block list changes", async () => {
    const { key, id } = await projectWithNumber();
    const second = await newInstance(key, "n2");
    const usual = await blockingFleet(id, "fleet-usual");
    const other = await blockingFleet(second.id, "fleet-other");
    await deliver(usual.socket, inboundMessage(PHONE_JID));

    const res = await block(key, PHONE_JID, { instance_id: second.id });
    expect(res.json).toEqual({ jid: PHONE_JID, blocked: true, instance_id: second.id });
    expect(other.asked).toEqual([{ jid: PHONE_JID, action: "block" }]);
    expect(usual.asked).toEqual([]);
  });

  it("bad input is a 400 naming the field, and never reaches the fleet", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await blockingFleet(id);
    for (const who of ["120363041234567890@g.us", "alguem@s.whatsapp.net", "not a phone", "+12"]) {
      const res = await block(key, who, { instance_id: id });
      expect(res.status, who).toBe(400);
      expect(res.json.error, who).toMatchObject({ code: "invalid_request", details: { field: "jid" } });
    }
    const badBody = await block(key, PHONE_JID, { instance_id: 42 });
    expect(badBody.status).toBe(400);
    expect(badBody.json.error.details.field).toBe("instance_id");
    // Nobody of this project talks to them yet: which number's block list is meant?
    const unknown = await block(key, "5511977776666@s.whatsapp.net");
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatchObject({ code: "instance_id_required", details: { field: "instance_id" } });
    expect(fleet.asked).toEqual([]);
  });

  it("another project's number or contact is 404; the project's own number is used only when named", async () => {
    const { key } = await projectWithNumber();
    const theirs = await projectWithNumber();
    const fleet = await blockingFleet(theirs.id);
    await deliver(fleet.socket, inboundMessage(PHONE_JID));
    const theirContact = (await contactRow(theirs.projectId))!;

    const viaTheirNumber = await block(key, PHONE_JID, { instance_id: theirs.id });
    expect(viaTheirNumber.status).toBe(404);
    expect(viaTheirNumber.json.error).toMatchObject({ code: "not_found", details: { field: "instance_id" } });
    const theirContactId = await block(key, theirContact.id);
    expect(theirContactId.status).toBe(404);
    expect(theirContactId.json.error).toMatchObject({ code: "not_found", details: { field: "jid" } });
    // Their number talks to this person; ours does not: no default number here.
    const noDefault = await block(key, PHONE_JID);
    expect(noDefault.json.error.code).toBe("instance_id_required");
    expect(fleet.asked).toEqual([]);
  });

  it("fleet failures: a person WhatsApp cannot name is 422, a number that is down 409 not_connected, no fleet 409 fleet_unavailable", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await blockingFleet(id);
    const nobody = await block(key, "5511900000000@s.whatsapp.net", { instance_id: id });
    expect(nobody.status).toBe(422);
    expect(nobody.json.error).toMatchObject({ code: "not_on_whatsapp", details: { field: "jid" } });

    await deliver(fleet.socket, inboundMessage(PHONE_JID));
    fleet.socket.event("status", { state: "disconnected", reason: "transient" });
    await waitFor(async () => (await call(`/instances/${id}`, { token: key })).json.state === "disconnected", 3_000, "number down");
    const down = await block(key, PHONE_JID);
    expect(down.status).toBe(409);
    expect(down.json.error).toMatchObject({ code: "not_connected", details: { field: "instance_id", instance_id: id } });

    const idle = await projectWithNumber();
    const noFleet = await block(idle.key, PHONE_JID, { instance_id: idle.id });
    expect(noFleet.status).toBe(409);
    expect(noFleet.json.error.code).toBe("fleet_unavailable");
  });
});

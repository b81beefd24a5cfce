/**
 * WhatsApp groups and the block list through the connection manager, around
 * the socket: the loopback peer has no groups and no block list. The group
 * metadata the fake socket hands over is what Baileys' own parser makes of
 * WhatsApp's `<group>` nodes, and its errors are thrown the way Baileys
 * throws them, so the translation is tested against Baileys' real shapes.
 */
import { type BinaryNode, type GroupMetadata, assertNodeErrorFree } from "@whiskeysockets/baileys";
import { extractGroupMetadata } from "@whiskeysockets/baileys/lib/Socket/groups.js";
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { Methods, ProtocolError } from "../../shared/protocol.ts";
import { SALES, SUPPORT, salesGroup as salesWire } from "../shared/whatsapp-groups.ts";
import { openManager } from "./fake-manager.ts";

const cipher = new SessionCipher("groups unit session key");
const instanceId = "inst_groups_unit";

const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

async function connected() {
  const open = await openManager({ instanceId, cipher, me: { id: "5511999990001:3@s.whatsapp.net" } });
  managers.push(open.manager);
  return { ...open, call: open.edge.edge.call.bind(open.edge.edge) };
}

const node = (tag: string, attrs: Record<string, string> = {}, content?: BinaryNode[] | Buffer): BinaryNode => ({ tag, attrs, content });

/** A group as WhatsApp describes it, through Baileys' parser. */
const parsed = (group: BinaryNode): GroupMetadata => extractGroupMetadata(node("iq", { type: "result" }, [group]));

/** A LID-addressed group: participants by LID with their phone beside, one whose phone WhatsApp hides. */
const salesGroup = () =>
  parsed(
    node("group", { id: "120363041234567890", subject: "Vendas SP", creation: "1700000000", creator: "111111111111111@lid", creator_pn: "5511911112222@s.whatsapp.net", addressing_mode: "lid", size: "3" }, [
      node("description", { id: "D1", participant: "111111111111111@lid", t: "1700000100" }, [node("body", {}, Buffer.from("Leads de São Paulo"))]),
      node("participant", { jid: "111111111111111@lid", phone_number: "5511911112222@s.whatsapp.net", type: "superadmin" }),
      node("participant", { jid: "222222222222222@lid", phone_number: "5511933334444@s.whatsapp.net", type: "admin" }),
      node("participant", { jid: "333333333333333@lid" }),
      node("announcement"),
    ]),
  );

/** A phone-addressed group: participants by phone JID, a LID beside one of them. */
const supportGroup = () =>
  parsed(
    node("group", { id: "120363000000000002", subject: "Suporte", creation: "1690000000", creator: "5511999990001@s.whatsapp.net" }, [
      node("participant", { jid: "5511955556666@s.whatsapp.net", lid: "444444444444444@lid" }),
      node("participant", { jid: "5511999990001@s.whatsapp.net", type: "admin" }),
      node("locked"),
    ]),
  );

/** What Baileys throws when WhatsApp answers a query with `<error code=... text=...>`. */
const whatsAppError = (code: string, text: string) => {
  try {
    assertNodeErrorFree(node("iq", { type: "error" }, [node("error", { code, text })]));
  } catch (err) {
    return err as Error;
  }
  throw new Error("assertNodeErrorFree did not throw");
};
/** Baileys' Boom for a socket whose connection closed mid-query. */
const connectionClosed = () => Object.assign(new Error("Connection Closed"), { isBoom: true, output: { statusCode: 428 } });

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "no error";
  } catch (err) {
    return err instanceof ProtocolError ? `${err.code}: ${err.message}` : String(err);
  }
};

describe("WhatsApp groups (unit, around the socket: the peer has no groups/blocks)", () => {
  it("groups.list answers every group the number is in, by subject, each person by phone JID when WhatsApp gives the phone, else by LID", async () => {
    const { sock, call } = await connected();
    sock.groups = { [SALES]: salesGroup(), [SUPPORT]: supportGroup() };

    const answer = await call("groups.list", {});
    expect(Methods["groups.list"].result.parse(answer)).toEqual(answer);
    expect(answer.groups).toEqual([
      {
        jid: SUPPORT,
        subject: "Suporte",
        description: null,
        owner: "5511999990001@s.whatsapp.net",
        created_at: "2023-07-22T04:26:40.000Z",
        size: 2,
        participants: [
          { jid: "5511955556666@s.whatsapp.net", phone: "+5511955556666", lid: "444444444444444@lid", admin: null },
          { jid: "5511999990001@s.whatsapp.net", phone: "+5511999990001", lid: null, admin: "admin" },
        ],
        announce: false,
        restrict: true,
      },
      salesWire,
    ]);
  });

  it("groups.list of a number in no group is empty; a socket that drops mid-query is not_connected, other failures groups_failed", async () => {
    const { sock, call } = await connected();
    expect(await call("groups.list", {})).toEqual({ groups: [] });
    sock.failNextQuery = connectionClosed();
    expect(await errorOf(call("groups.list", {}))).toMatch(/^not_connected: /);
    sock.failNextQuery = whatsAppError("500", "internal-server-error");
    expect(await errorOf(call("groups.list", {}))).toBe("groups_failed: internal-server-error");
  });

  it("groups.get answers one group; WhatsApp's item-not-found and forbidden (not a member) are group_not_found", async () => {
    const { sock, call } = await connected();
    sock.groups = { [SALES]: salesGroup() };
    const { group } = await call("groups.get", { jid: SALES });
    expect(group).toMatchObject({ jid: SALES, subject: "Vendas SP", size: 3, announce: true });
    expect(group.participants.map((p) => p.jid)).toEqual(["5511911112222@s.whatsapp.net", "5511933334444@s.whatsapp.net", "333333333333333@lid"]);

    expect(await errorOf(call("groups.get", { jid: SUPPORT }))).toBe(`group_not_found: WhatsApp has no group ${SUPPORT}`);
    sock.failNextQuery = whatsAppError("403", "forbidden");
    expect(await errorOf(call("groups.get", { jid: SALES }))).toBe(`group_not_found: this number is not in the group ${SALES}`);
    // Not a group JID: refused before it reaches the number.
    expect(await errorOf(call("groups.get", { jid: "5511955556666@s.whatsapp.net" }))).toMatch(/^bad_params: /);
  });

  it("group queries on a number that is not connected answer not_connected and never reach the socket", async () => {
    const { sock, call, manager } = await connected();
    sock.groups = { [SALES]: salesGroup() };
    sock.update({ connection: "connecting" });
    await expect.poll(() => manager.status.state).toBe("connecting");
    sock.failNextQuery = new Error("the socket was asked");
    expect(await errorOf(call("groups.list", {}))).toMatch(/^not_connected: /);
    expect(await errorOf(call("groups.get", { jid: SALES }))).toMatch(/^not_connected: /);
    expect(await errorOf(call("contacts.block", { jid: "5511955556666@s.whatsapp.net", action: "block" }))).toMatch(/^not_connected: /);
    expect(sock.failNextQuery).not.toBeNull();
    expect(sock.blockRequests).toEqual([]);
  });
});

describe("the number's WhatsApp block list (unit, around the socket: the peer has no groups/blocks)", () => {
  it("contacts.block blocks and unblocks a user by phone JID or LID, without the device part", async () => {
    const { sock, call } = await connected();
    expect(await call("contacts.block", { jid: "5511955556666:2@s.whatsapp.net", action: "block" })).toEqual({
      jid: "5511955556666@s.whatsapp.net",
      blocked: true,
    });
    expect(await call("contacts.block", { jid: "444444444444444@lid", action: "block" })).toEqual({ jid: "444444444444444@lid", blocked: true });
    expect([...sock.blockList]).toEqual(["5511955556666@s.whatsapp.net", "444444444444444@lid"]);

    expect(await call("contacts.block", { jid: "5511955556666@s.whatsapp.net", action: "unblock" })).toEqual({
      jid: "5511955556666@s.whatsapp.net",
      blocked: false,
    });
    expect([...sock.blockList]).toEqual(["444444444444444@lid"]);
    expect(sock.blockRequests.map((r) => r.action)).toEqual(["block", "block", "unblock"]);
  });

  it("a group is not blockable (invalid_jid); a user WhatsApp cannot name is not_on_whatsapp; a dropped socket is not_connected", async () => {
    const { sock, call } = await connected();
    expect(await errorOf(call("contacts.block", { jid: SALES, action: "block" }))).toBe(`invalid_jid: ${SALES} is not a WhatsApp user's JID`);
    expect(sock.blockRequests).toEqual([]);

    // Baileys needs the LID behind a phone (WhatsApp keys block lists by LID) and fails with a 400 when there is none.
    sock.failNextQuery = Object.assign(new Error("Unable to resolve LID for PN JID: 5511900000000@s.whatsapp.net"), { isBoom: true, output: { statusCode: 400 } });
    expect(await errorOf(call("contacts.block", { jid: "5511900000000@s.whatsapp.net", action: "block" }))).toMatch(/^not_on_whatsapp: /);
    sock.failNextQuery = connectionClosed();
    expect(await errorOf(call("contacts.block", { jid: "5511955556666@s.whatsapp.net", action: "unblock" }))).toMatch(/^not_connected: /);
    sock.failNextQuery = whatsAppError("500", "internal-server-error");
    expect(await errorOf(call("contacts.block", { jid: "5511955556666@s.whatsapp.net", action: "block" }))).toBe("block_failed: internal-server-error");
    expect(sock.blockList.size).toBe(0);
  });
});

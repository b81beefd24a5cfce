/**
 * Group administration and group events (fleet/group-admin.ts), as unit
 * tests around the socket: the loopback peer has no groups. Baileys' real
 * group functions (makeWASocket's group layer) run against a socket double
 * that answers their IQs as WhatsApp does (whatsapp-double.ts), and
 * WhatsApp's `w:gp2` notifications go through Baileys' own notification
 * handling, so what is tested is the whole way from WhatsApp's nodes to the
 * edge's commands and events.
 */
import type { BinaryNode } from "@whiskeysockets/baileys";
import { afterEach, describe, expect, it } from "vitest";
import type { EdgeLink } from "../../fleet/edge-link.ts";
import { GroupAdmin } from "../../fleet/group-admin.ts";
import { Events, Methods, ProtocolError } from "../../shared/protocol.ts";
import { captureLogs } from "./captured-logs.ts";
import { type WhatsAppDouble, getBinaryNodeChild, iqError, iqResult, node, whatsAppDouble } from "./whatsapp-double.ts";

const GROUP = "120363041234567890@g.us";
const ME = "5511999990001@s.whatsapp.net";
const ME_LID = "999999999999999@lid";
const ADMIN = "5511911112222@s.whatsapp.net";
const ADMIN_LID = "111111111111111@lid";
const CUSTOMER = "5511955556666@s.whatsapp.net";
const CUSTOMER_LID = "444444444444444@lid";

const doubles: WhatsAppDouble[] = [];
afterEach(() => doubles.splice(0).forEach((d) => d.close()));

function setup() {
  const wa = whatsAppDouble({ id: "5511999990001:3@s.whatsapp.net", lid: `${ME_LID.split("@")[0]}:3@lid` });
  doubles.push(wa);
  const events: { event: string; data: unknown }[] = [];
  const link = { emit: (event: string, data: unknown) => events.push({ event, data }) } as unknown as EdgeLink;
  const { logger, logs } = captureLogs();
  const admin = new GroupAdmin({ sockets: wa.sockets, link, logger });
  admin.attach(wa.sock);
  return { wa, admin, events, logs };
}

/** `<group>` as WhatsApp describes it; `me` is this number's role (undefined: not listed). */
const groupNode = (opts: { me?: "admin" | "member" | "absent"; subject?: string; announce?: boolean } = {}) =>
  node("group", { id: GROUP.split("@")[0]!, subject: opts.subject ?? "Vendas SP", creation: "1700000000", creator: ADMIN, s_t: "1700000000" }, [
    node("participant", { jid: ADMIN, type: "superadmin" }),
    ...(opts.me === "absent" ? [] : [node("participant", { jid: ME, ...(opts.me === "member" ? {} : { type: "admin" }) })]),
    node("participant", { jid: CUSTOMER, lid: CUSTOMER_LID }),
    ...(opts.announce ? [node("announcement")] : []),
  ]);

const isMetadataQuery = (iq: { attrs: Record<string, string>; content?: unknown }) =>
  iq.attrs.type === "get" && Array.isArray(iq.content) && iq.content[0]?.tag === "query";

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "no error";
  } catch (err) {
    return err instanceof ProtocolError ? `${err.code}: ${err.message}` : String(err);
  }
};

/** What Baileys put in each IQ: its type, target and first child's tag. */
const shapes = (wa: WhatsAppDouble) => wa.iqs.map((iq) => `${iq.attrs.type} ${iq.attrs.to} ${Array.isArray(iq.content) ? iq.content[0]?.tag : ""}`);

describe("group administration (unit, around the socket: Baileys' group functions against a WhatsApp double; the peer has no groups)", () => {
  it("groups.create sends WhatsApp's create IQ with the participants, and answers the new group", async () => {
    const { wa, admin } = setup();
    wa.answer((iq) => iqResult(iq, [groupNode({ subject: "Lançamento" })]));
    const answer = await admin.create("Lançamento", [CUSTOMER, "5511977778888:2@s.whatsapp.net"]);
    expect(Methods["groups.create"].result.parse(answer)).toEqual(answer);
    expect(answer.group).toMatchObject({ jid: GROUP, subject: "Lançamento", size: 3 });

    const create = getBinaryNodeChild(wa.iqs[0], "create")!;
    expect(wa.iqs[0]!.attrs).toMatchObject({ xmlns: "w:g2", type: "set", to: "@g.us" });
    expect(create.attrs.subject).toBe("Lançamento");
    // No device part: WhatsApp adds people, not their devices.
    expect((create.content as BinaryNode[]).map((p) => p.attrs.jid)).toEqual([CUSTOMER, "5511977778888@s.whatsapp.net"]);
  });

  it("groups.update as an admin: subject, description and both settings, each WhatsApp's own IQ, then the group as it is now", async () => {
    const { wa, admin } = setup();
    wa.answer((iq) => (iq.attrs.type === "get" ? iqResult(iq, [groupNode({ subject: "Vendas RJ", announce: true })]) : iqResult(iq)));
    const { group } = await admin.update(GROUP, { subject: "Vendas RJ", description: "Só leads", announce: true, restrict: false });
    expect(group).toMatchObject({ subject: "Vendas RJ", announce: true });
    expect(shapes(wa)).toEqual([
      `get ${GROUP} query`, // is this number an admin?
      `set ${GROUP} subject`,
      `get ${GROUP} query`, // Baileys reads the description's id to replace it
      `set ${GROUP} description`,
      `set ${GROUP} announcement`,
      `set ${GROUP} unlocked`,
      `get ${GROUP} query`,
    ]);
    expect(Buffer.from(getBinaryNodeChild(wa.iqs[1], "subject")!.content as Uint8Array).toString()).toBe("Vendas RJ");
    const description = getBinaryNodeChild(wa.iqs[3], "description")!;
    expect(Buffer.from(getBinaryNodeChild(description, "body")!.content as Uint8Array).toString()).toBe("Só leads");

    wa.iqs.length = 0;
    await admin.update(GROUP, { description: null, announce: false, restrict: true });
    expect(getBinaryNodeChild(wa.iqs[2], "description")!.attrs.delete).toBe("true");
    expect(shapes(wa).slice(3, 5)).toEqual([`set ${GROUP} not_announcement`, `set ${GROUP} locked`]);
  });

  it("a number that is not an admin gets not_group_admin before WhatsApp is asked to change anything; one not in the group, not_group_member", async () => {
    const { wa, admin } = setup();
    wa.answer((iq) => iqResult(iq, [groupNode({ me: "member" })]));
    expect(await errorOf(admin.update(GROUP, { subject: "Outro" }))).toBe(`not_group_admin: this number is not an admin of the group ${GROUP}`);
    expect(await errorOf(admin.participants(GROUP, "add", [CUSTOMER]))).toMatch(/^not_group_admin: /);
    expect(await errorOf(admin.invite(GROUP, false))).toMatch(/^not_group_admin: /);
    expect(wa.iqs.every(isMetadataQuery)).toBe(true);

    wa.answer((iq) => iqResult(iq, [groupNode({ me: "absent" })]));
    expect(await errorOf(admin.update(GROUP, { subject: "Outro" }))).toBe(`not_group_member: this number is not in the group ${GROUP}`);
    // WhatsApp hides a group from a non-member (403), and knows no group by a wrong JID (404).
    wa.answer((iq) => iqError(iq, 403, "forbidden"));
    expect(await errorOf(admin.participants(GROUP, "remove", [CUSTOMER]))).toMatch(/^not_group_member: /);
    expect(await errorOf(admin.leave(GROUP))).toMatch(/^not_group_member: /);
    wa.answer((iq) => iqError(iq, 404, "item-not-found"));
    expect(await errorOf(admin.update(GROUP, { restrict: true }))).toBe(`group_not_found: WhatsApp has no group ${GROUP}`);
    expect(wa.iqs.every(isMetadataQuery)).toBe(true);
  });

  it("WhatsApp's own refusal of an admin action (it changed meanwhile) is not_group_admin too", async () => {
    const { wa, admin } = setup();
    wa.answer((iq) => (isMetadataQuery(iq) ? iqResult(iq, [groupNode()]) : iqError(iq, 401, "not-authorized")));
    expect(await errorOf(admin.update(GROUP, { subject: "Outro" }))).toMatch(/^not_group_admin: WhatsApp refused/);
    wa.answer((iq) => (isMetadataQuery(iq) ? iqResult(iq, [groupNode()]) : iqError(iq, 500, "internal-server-error")));
    expect(await errorOf(admin.invite(GROUP, true))).toBe("groups_failed: internal-server-error");
  });

  it("groups.participants answers WhatsApp's status per person as stable codes: privacy, already in, recently left, not found, refused", async () => {
    const { wa, admin } = setup();
    const people = ["5511900000001", "5511900000002", "5511900000003", "5511900000004", "5511900000005", "5511900000006"].map((d) => `${d}@s.whatsapp.net`);
    const status = ["", "403", "409", "408", "404", "406"];
    wa.answer((iq) =>
      isMetadataQuery(iq)
        ? iqResult(iq, [groupNode()])
        : iqResult(iq, [node("add", {}, people.map((jid, i) => node("participant", { jid, ...(status[i] ? { error: status[i]! } : {}) })))]),
    );
    const { results } = await admin.participants(GROUP, "add", people);
    expect(results).toEqual([
      { jid: people[0], outcome: "ok", status: 200 },
      { jid: people[1], outcome: "privacy_restricted", status: 403 },
      { jid: people[2], outcome: "already_member", status: 409 },
      { jid: people[3], outcome: "recently_left", status: 408 },
      { jid: people[4], outcome: "not_found", status: 404 },
      { jid: people[5], outcome: "refused", status: 406 },
    ]);
    const sent = getBinaryNodeChild(wa.iqs[1], "add")!;
    expect((sent.content as BinaryNode[]).map((p) => p.attrs.jid)).toEqual(people);

    // A LID-addressed group answers by LID, with the phone beside it.
    wa.answer((iq) =>
      isMetadataQuery(iq) ? iqResult(iq, [groupNode()]) : iqResult(iq, [node("promote", {}, [node("participant", { jid: CUSTOMER_LID, phone_number: CUSTOMER })])]),
    );
    expect((await admin.participants(GROUP, "promote", [CUSTOMER])).results).toEqual([{ jid: CUSTOMER, outcome: "ok", status: 200 }]);
    expect(wa.iqs.at(-1)!.content).toMatchObject([{ tag: "promote" }]);
  });

  it("invites: the link's code, a revoke answering the new code, joining by code, and leaving", async () => {
    const { wa, admin } = setup();
    wa.answer((iq) => {
      if (isMetadataQuery(iq)) return iqResult(iq, [groupNode()]);
      const child = (iq.content as { tag: string; attrs: Record<string, string> }[])[0]!;
      if (child.tag === "invite" && child.attrs.code) return iqResult(iq, [node("group", { jid: GROUP })]);
      if (child.tag === "invite") return iqResult(iq, [node("invite", { code: iq.attrs.type === "get" ? "AbCdEf123" : "NeWcOdE456" })]);
      if (child.tag === "leave") return iqResult(iq);
      return undefined;
    });
    expect(await admin.invite(GROUP, false)).toEqual({ code: "AbCdEf123" });
    expect(await admin.invite(GROUP, true)).toEqual({ code: "NeWcOdE456" });
    expect(await admin.join("AbCdEf123")).toEqual({ jid: GROUP });
    expect(await admin.leave(GROUP)).toEqual({});
    expect(shapes(wa)).toEqual([
      `get ${GROUP} query`,
      `get ${GROUP} invite`,
      `get ${GROUP} query`,
      `set ${GROUP} invite`,
      "set @g.us invite",
      `get ${GROUP} query`,
      "set @g.us leave",
    ]);
    expect(getBinaryNodeChild(wa.iqs[4], "invite")!.attrs.code).toBe("AbCdEf123");
    expect(getBinaryNodeChild(getBinaryNodeChild(wa.iqs[6], "leave"), "group")!.attrs.id).toBe(GROUP);

    wa.answer((iq) => iqError(iq, 406, "not-acceptable"));
    expect(await errorOf(admin.join("revoked"))).toMatch(/^invite_invalid: /);
    wa.answer((iq) => iqError(iq, 419, "resource-limit"));
    expect(await errorOf(admin.join("AbCdEf123"))).toBe("group_full: the group is full");
  });
});

describe("group events (unit, around the socket: WhatsApp's w:gp2 notifications through Baileys' own handling; the peer has no groups)", () => {
  const notification = (id: string, child: ReturnType<typeof node>) =>
    node("notification", { id, type: "w:gp2", from: GROUP, participant: ADMIN_LID, participant_pn: ADMIN, t: "1700000500" }, [child]);

  const heard = async (events: { event: string; data: unknown }[], count: number) => {
    await expect.poll(() => events.length).toBe(count);
    for (const { event, data } of events) expect(Events[event as "group.updated"].parse(data)).toEqual(data);
    return events.map(({ event, data }) => ({ event, ...(data as object) }));
  };

  it("people added, removed, promoted and demoted become group.participants, by phone JID when WhatsApp gives it, and by whom", async () => {
    const { wa, events } = setup();
    wa.receive(notification("n1", node("add", {}, [node("participant", { jid: CUSTOMER_LID, phone_number: CUSTOMER }), node("participant", { jid: "5511977778888@s.whatsapp.net" })])));
    wa.receive(notification("n2", node("promote", {}, [node("participant", { jid: CUSTOMER_LID, phone_number: CUSTOMER })])));
    wa.receive(notification("n3", node("demote", {}, [node("participant", { jid: CUSTOMER_LID })])));
    wa.receive(notification("n4", node("remove", {}, [node("participant", { jid: CUSTOMER_LID, phone_number: CUSTOMER })])));
    // Baileys names who did it by LID here (the edge turns a known LID into the phone).
    const by = ADMIN_LID;
    expect(await heard(events, 4)).toEqual([
      { event: "group.participants", jid: GROUP, action: "added", participants: [CUSTOMER, "5511977778888@s.whatsapp.net"], by },
      { event: "group.participants", jid: GROUP, action: "promoted", participants: [CUSTOMER], by },
      { event: "group.participants", jid: GROUP, action: "demoted", participants: [CUSTOMER_LID], by },
      { event: "group.participants", jid: GROUP, action: "removed", participants: [CUSTOMER], by },
    ]);
    // Baileys acknowledged each notification to WhatsApp.
    await expect.poll(() => wa.others.filter((n) => n.tag === "ack").length).toBe(4);
  });

  it("subject, description and settings changes become group.updated with only what changed; a member leaving is removed by themselves", async () => {
    const { wa, events } = setup();
    // One at a time: Baileys merges changes to one group that arrive while it buffers events.
    const frames = [
      notification("u1", node("subject", { subject: "Vendas RJ", s_o: ADMIN_LID, s_t: "1700000500" })),
      notification("u2", node("description", { id: "D2" }, [node("body", {}, "Só leads quentes")])),
      notification("u3", node("description", { id: "D3", delete: "true" })),
      notification("u4", node("announcement")),
      notification("u5", node("not_announcement")),
      notification("u6", node("locked")),
      notification("u7", node("unlocked")),
      // Not among the events: a new invite link.
      notification("u8", node("invite", { code: "NeWcOdE456" })),
      node("notification", { id: "u9", type: "w:gp2", from: GROUP, participant: CUSTOMER_LID, t: "1700000600" }, [node("remove", {}, [node("participant", { jid: CUSTOMER_LID })])]),
    ];
    for (const frame of frames) {
      const acked = wa.others.length;
      wa.receive(frame);
      await expect.poll(() => wa.others.length).toBe(acked + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Baileys names who did it by LID in these notifications (the edge turns a known LID into the phone).
    const by = ADMIN_LID;
    expect(await heard(events, 8)).toEqual([
      { event: "group.updated", jid: GROUP, subject: "Vendas RJ", by },
      { event: "group.updated", jid: GROUP, description: "Só leads quentes", by },
      { event: "group.updated", jid: GROUP, description: null, by },
      { event: "group.updated", jid: GROUP, announce: true, by },
      { event: "group.updated", jid: GROUP, announce: false, by },
      { event: "group.updated", jid: GROUP, restrict: true, by },
      { event: "group.updated", jid: GROUP, restrict: false, by },
      { event: "group.participants", jid: GROUP, action: "removed", participants: [CUSTOMER_LID], by: CUSTOMER_LID },
    ]);
    // Heard, not asked: WhatsApp got no query.
    expect(wa.iqs).toEqual([]);
  });

  it("fetching every group (Baileys re-emits each as groups.update) is no news", async () => {
    const { wa, events } = setup();
    wa.answer((iq) => iqResult(iq, [node("groups", {}, [groupNode({ subject: "Vendas SP" })])]));
    await wa.sock.groupFetchAllParticipating();
    await new Promise((r) => setTimeout(r, 50));
    expect(wa.iqs).toHaveLength(1);
    expect(events).toEqual([]);
  });
});

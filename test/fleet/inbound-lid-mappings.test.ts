/**
 * LID <-> phone pairs: collected from every place Baileys mentions them,
 * normalized, told to the edge once, in events the protocol accepts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { LidCollector, contactCandidates, mappingBatches, pairOf } from "../../fleet/lid-mappings.ts";
import { Events } from "../../shared/protocol.ts";
import { openManager } from "./fake-manager.ts";
import { type MemoryEdge, until } from "./memory-edge.ts";

const cipher = new SessionCipher("lid mapping session key");
const instanceId = "inst_lids";
const LID = "123456789012345@lid";
const PN = "5511988887777@s.whatsapp.net";
const lid = (n: number) => `${100_000_000_000_000 + n}@lid`;
const pn = (n: number) => `55119${String(n).padStart(8, "0")}@s.whatsapp.net`;

describe("lid mappings: pairs", () => {
  it("a LID and a phone JID make a pair in either order, devices dropped; anything else does not", () => {
    expect(pairOf([`123456789012345:7@lid`, "5511988887777:0@s.whatsapp.net"])).toEqual({ lid: LID, pn: PN });
    expect(pairOf([PN, LID])).toEqual({ lid: LID, pn: PN });
    expect(pairOf([PN, PN])).toBeNull();
    expect(pairOf([LID, null])).toBeNull();
    expect(pairOf(["120363025246125888@g.us", LID])).toBeNull();
  });

  it("contacts carry pairs as lid + phoneNumber, or a LID with a phone id", () => {
    const collector = new LidCollector();
    const pairs = collector.take(
      contactCandidates([
        { id: LID, phoneNumber: PN },
        { id: pn(2), lid: lid(2) },
        { id: lid(3), lid: lid(3), phoneNumber: pn(3) },
        { id: lid(4) }, // nothing to pair with
        { id: pn(5), notify: "Sem LID" },
      ]),
    );
    expect(pairs).toEqual([
      { lid: LID, pn: PN },
      { lid: lid(2), pn: pn(2) },
      { lid: lid(3), pn: pn(3) },
    ]);
  });

  it("a pair told recently is not told again; one forgotten (the memory is bounded) is", () => {
    const collector = new LidCollector(2);
    expect(collector.take([[LID, PN], [PN, LID]])).toEqual([{ lid: LID, pn: PN }]);
    expect(collector.take([[`123456789012345:3@lid`, PN]])).toEqual([]);
    collector.take([[lid(1), pn(1)], [lid(2), pn(2)]]);
    expect(collector.take([[LID, PN]])).toEqual([{ lid: LID, pn: PN }]);
  });

  it("batches stay within the protocol's 500 pairs per event", () => {
    const many = Array.from({ length: 1234 }, (_, i) => ({ lid: lid(i), pn: pn(i) }));
    const batches = mappingBatches(many);
    expect(batches.map((b) => b.length)).toEqual([500, 500, 234]);
    expect(batches.flat()).toEqual(many);
    for (const batch of batches) expect(Events["lid.mappings"].safeParse({ mappings: batch }).success).toBe(true);
  });
});

describe("lid mappings through the connection manager (unit, around the socket)", () => {
  const managers: ConnectionManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  async function connected() {
    const open = await openManager({ instanceId, cipher, me: { id: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid" } });
    managers.push(open.manager);
    return open;
  }

  const told = (edge: MemoryEdge) => edge.arrivals.flatMap((a) => (a.kind === "lid.mappings" ? a.mappings : []));

  it("lid-mapping.update, history sync (in batches of 500) and contact updates reach the edge, each pair once", async () => {
    const { edge, sock } = await connected();
    sock.ev.emit("lid-mapping.update", { lid: `${LID.replace("@", ":2@")}`, pn: PN });
    const history = Array.from({ length: 1100 }, (_, i) => ({ lid: lid(i), pn: pn(i) }));
    sock.ev.emit("messaging-history.set", {
      chats: [],
      messages: [],
      contacts: [{ id: lid(5000), phoneNumber: pn(5000) }],
      lidPnMappings: [...history, { lid: LID, pn: PN }],
    });
    sock.ev.emit("contacts.upsert", [{ id: pn(6000), lid: lid(6000), notify: "Ana" }]);
    sock.ev.emit("contacts.update", [{ id: lid(7000), phoneNumber: pn(7000) }, { id: pn(6000), lid: lid(6000) }]);

    await until(() => told(edge).length === 1 + 1100 + 3, 3_000, "every pair");
    const batches = edge.arrivals.map((a) => (a.kind === "lid.mappings" ? a.mappings.length : 0));
    expect(batches).toEqual([1, 500, 500, 101, 1, 1]);
    expect(told(edge)[0]).toEqual({ lid: LID, pn: PN });
    expect(new Set(told(edge).map((p) => p.lid)).size).toBe(told(edge).length);
  });

  it("a message the edge does not get (a disappearing-messages setting) still teaches its pair; our own messages' keys teach nothing", async () => {
    const { edge, sock } = await connected();
    sock.ev.emit("messages.upsert", {
      type: "notify",
      messages: [
        { key: { remoteJid: LID, remoteJidAlt: PN, fromMe: false, id: "3A0EPH" }, message: { protocolMessage: { type: 3, ephemeralExpiration: 86_400 } } },
        // Sent from the phone app: WhatsApp's alt JID on those can name us.
        { key: { remoteJid: lid(9), remoteJidAlt: "5511999990001@s.whatsapp.net", fromMe: true, id: "3EB0ME" }, message: { reactionMessage: { text: "👍", key: { id: "x" } } } },
      ],
    });
    await until(() => edge.stored.has("3EB0ME"), 3_000, "own reaction stored");
    expect(told(edge)).toEqual([{ lid: LID, pn: PN }]);
    expect(edge.stored.has("3A0EPH")).toBe(false);
  });
});

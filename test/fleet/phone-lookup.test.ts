import { encodeBinaryNode, getBinaryNodeChild } from "@whiskeysockets/baileys";
import { describe, expect, it } from "vitest";
import { phoneLookupQuery, resolvedContacts } from "../../fleet/phone-lookup.ts";

/** How WhatsApp answers one user of a phone lookup. */
const user = (jid: string, type: "in" | "out", query?: string) => ({
  id: jid,
  contact: contactParser({ tag: "contact", attrs: { type }, ...(query ? { content: Buffer.from(query) } : {}) }),
});
const contactParser = (node: Parameters<ReturnType<typeof phoneLookupQuery>["protocols"][number]["parser"]>[0]) =>
  phoneLookupQuery(["1"]).protocols[0]!.parser(node);

describe("contacts.resolve: the lookup and its answer", () => {
  it("asks for every number in one usync query, with the contact protocol, as onWhatsApp does", () => {
    const query = phoneLookupQuery(["5511988887777", "551188887777", "5511988887777"]);
    expect(query.protocols.map((p) => p.name)).toEqual(["contact"]);
    expect(query.users.map((u) => u.phone)).toEqual(["+5511988887777", "+551188887777"]);
    const userNode = { tag: "user", attrs: {}, content: [query.protocols[0]!.getUserElement(query.users[0]!)!] };
    expect(getBinaryNodeChild(userNode, "contact")?.content).toBe("+5511988887777");
    expect(() => encodeBinaryNode(userNode)).not.toThrow();
  });

  it("maps each answer back to the number asked by the query WhatsApp echoes, keeping the JID it returns", () => {
    const answer = {
      list: [
        user("5511988887777@s.whatsapp.net", "in", "+5511988887777"),
        // Asked without the 9th digit: WhatsApp answers with the account's JID, which has it.
        user("5511988887777@s.whatsapp.net", "in", "+551188887777"),
        user("5511911112222@s.whatsapp.net", "out", "+5511911112222"),
      ],
      sideList: [],
    };
    expect(resolvedContacts(["551188887777", "5511911112222", "5511988887777", "5511900000000"], answer)).toEqual([
      { phone: "551188887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      { phone: "5511911112222", exists: false, jid: null },
      { phone: "5511988887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      // Nobody answered for it: not a number we can send to.
      { phone: "5511900000000", exists: false, jid: null },
    ]);
  });

  it("without an echo, matches by the JID's number, or the only answer to the only question", () => {
    const noEcho = { list: [user("5511988887777@s.whatsapp.net", "in")], sideList: [] };
    expect(resolvedContacts(["5511988887777", "551188887777"], noEcho)).toEqual([
      { phone: "5511988887777", exists: true, jid: "5511988887777@s.whatsapp.net" },
      { phone: "551188887777", exists: false, jid: null },
    ]);
    expect(resolvedContacts(["551188887777"], noEcho)).toEqual([{ phone: "551188887777", exists: true, jid: "5511988887777@s.whatsapp.net" }]);
  });

  it("a contact node carrying an error fails the lookup instead of passing for 'not on WhatsApp'", () => {
    expect(() =>
      contactParser({ tag: "contact", attrs: {}, content: [{ tag: "error", attrs: { code: "429", text: "rate-overlimit" } }] }),
    ).toThrow();
  });
});

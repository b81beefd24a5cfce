/**
 * "Which of these numbers are on WhatsApp?" (`contacts.resolve`).
 *
 * The question is the one Baileys' `onWhatsApp` asks (a usync query with the
 * contact protocol, one `<user><contact>+5511...</contact></user>` per
 * number, all in one round trip), but the answer is read in full:
 * `onWhatsApp` drops the numbers that are not on WhatsApp and the query each
 * answer belongs to, and both matter here. WhatsApp answers every user with
 * its canonical JID (for a Brazilian mobile that may be the other form of the
 * number: with or without the 9th digit), `type="in"` or `"out"`, and echoes
 * the number as it was asked, which is how answers map back to the question.
 */
import { type BinaryNode, USyncQuery, type USyncQueryResult, USyncUser, assertNodeErrorFree } from "@whiskeysockets/baileys";
import type { Result } from "../shared/protocol.ts";

export type ResolvedContact = Result<"contacts.resolve">["results"][number];

/** What the contact protocol reads from one `<contact type="in|out">query</contact>`. */
type ContactAnswer = { exists: boolean; query: string | null };
type USyncQueryProtocol = USyncQuery["protocols"][number];

const contactProtocol: USyncQueryProtocol = {
  name: "contact",
  getQueryElement: () => ({ tag: "contact", attrs: {} }),
  getUserElement: (user) => ({ tag: "contact", attrs: {}, content: user.phone }),
  parser: (node: BinaryNode): ContactAnswer => {
    assertNodeErrorFree(node);
    const content = node.content;
    const query = typeof content === "string" ? content : content instanceof Uint8Array ? Buffer.from(content).toString("utf8") : null;
    return { exists: node.attrs.type === "in", query };
  },
};

/** One usync query for all the numbers (digits with country code). */
export function phoneLookupQuery(phones: string[]): USyncQuery {
  const query = new USyncQuery();
  query.protocols.push(contactProtocol);
  for (const phone of new Set(phones)) query.withUser(new USyncUser().withPhone(`+${phone}`));
  return query;
}

/**
 * The answer for each asked number, in the order asked. An answer is matched
 * by the echoed query; failing that (a server that does not echo), by a JID
 * that is the number itself, or by being the only answer to the only
 * question. A number nobody answered for is reported as not on WhatsApp.
 */
export function resolvedContacts(phones: string[], result: USyncQueryResult): ResolvedContact[] {
  const answers = result.list.map((entry) => {
    const contact = entry.contact as ContactAnswer | undefined;
    return { jid: entry.id, exists: contact?.exists === true, query: digitsOf(contact?.query ?? "") };
  });
  const byQuery = new Map(answers.filter((a) => a.query).map((a) => [a.query, a]));
  const byJidUser = new Map(answers.map((a) => [a.jid.split("@")[0]!.split(":")[0]!, a]));
  const unique = new Set(phones);
  return phones.map((phone) => {
    const answer = byQuery.get(phone) ?? byJidUser.get(phone) ?? (unique.size === 1 && answers.length === 1 ? answers[0] : undefined);
    if (!answer?.exists) return { phone, exists: false, jid: null };
    return { phone, exists: true, jid: answer.jid };
  });
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, "");
}

/**
 * A customer's LID looked up as soon as their message is on the socket,
 * not when Baileys gets to it.
 *
 * Baileys decrypts a socket's messages one at a time (its `messageMutex`),
 * and for a sender known by phone number it first asks for their LID (the
 * number's LID mappings live at the edge, session-store.ts: a read, and when
 * missing a query to WhatsApp and a write). For a customer the number has not
 * heard from since its socket opened, that is two or three round trips with
 * the lock held, so new customers writing to one number at once queued one
 * behind another: at six messages a second per number, seconds
 * (bench:inbound --timeline, bench/profiles/inbound-2026-12.md, round 7).
 * Started here, outside the lock, the lookups of the messages waiting for it
 * run together; Baileys' own call, made inside the lock, joins the one in
 * flight for the same sender (`getLIDsForPNs` coalesces them) or finds its
 * answer cached. It is the lookup Baileys makes anyway, with the same
 * arguments, only earlier: nothing else changes.
 */
import { type BinaryNode, isHostedPnUser, isPnUser } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { errorText } from "./errors.ts";

/** The parts of a Baileys socket this needs: its frames, and its LID mapping store. */
export type LidLookupSocket = {
  ws: { on(event: "CB:message", listener: (node: BinaryNode) => void): unknown };
  signalRepository?: { lidMapping: { getLIDForPN(pn: string): Promise<string | null> } };
};

export function lookUpSendersEarly(sock: LidLookupSocket, logger: Logger): void {
  const lidMapping = sock.signalRepository?.lidMapping;
  if (!lidMapping) return;
  sock.ws.on("CB:message", (node) => {
    // The author as Baileys decrypts it (decode-wa-message.ts): `from` in a one-to-one chat, else the participant.
    const { from, participant } = node.attrs;
    const author = from && (isPnUser(from) || isHostedPnUser(from)) ? from : participant;
    if (!author || !(isPnUser(author) || isHostedPnUser(author))) return;
    lidMapping.getLIDForPN(author).catch((err: unknown) => logger.debug({ err: errorText(err) }, "early LID lookup failed"));
  });
}

/**
 * Poll votes, unit-tested around the socket: every pairing of creator and
 * voter forms, which the loopback peer cannot produce (its votes, in
 * test/e2e/console-inbox.test.ts, use the phone JIDs only). Each vote is
 * encrypted the way a WhatsApp client does it (test/peer/poll-vote.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { pollVoteHashes } from "../../fleet/poll-votes.ts";
import { openManager } from "./fake-manager.ts";
import { until } from "./memory-edge.ts";
import { encryptVote } from "../peer/poll-vote.ts";

const silent = pino({ level: "silent" });
const cipher = new SessionCipher("poll vote session key");
const instanceId = "inst_votes";
const OWN_PN = "5511999990001@s.whatsapp.net";
const OWN_LID = "98765432109876@lid";
const CUSTOMER = "5511988887777@s.whatsapp.net";
const CUSTOMER_LID = "123456789012345@lid";
const POLL_ID = "3EB0P0110001";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

const secret = cipher.messageSecret(instanceId, POLL_ID);
const hex = (text: string) => sha256(text).toString("hex");

describe("poll votes (unit, around the socket: the peer votes with phone JIDs only)", () => {
  it("decrypts whichever forms the voter's client used for creator and voter", () => {
    const parties = { secret, creators: [OWN_PN, OWN_LID], voters: [CUSTOMER_LID, CUSTOMER] };
    for (const [creator, voter] of [
      [OWN_LID, CUSTOMER_LID],
      [OWN_PN, CUSTOMER],
      [OWN_LID, CUSTOMER],
      [OWN_PN, CUSTOMER_LID],
    ] as const) {
      const vote = encryptVote({ secret, pollId: POLL_ID, creator, voter, options: ["Tarde"] });
      expect(pollVoteHashes(vote, parties)).toEqual([hex("Tarde")]);
    }
  });

  it("several choices come back in the voter's order; a vote taken back is an empty list, not a failure", () => {
    const parties = { secret, creators: [OWN_PN, OWN_LID], voters: [CUSTOMER] };
    const multi = encryptVote({ secret, pollId: POLL_ID, creator: OWN_PN, voter: CUSTOMER, options: ["Noite", "Manhã"] });
    expect(pollVoteHashes(multi, parties)).toEqual([hex("Noite"), hex("Manhã")]);
    const retracted = encryptVote({ secret, pollId: POLL_ID, creator: OWN_PN, voter: CUSTOMER, options: [] });
    expect(pollVoteHashes(retracted, parties)).toEqual([]);
  });

  it("cannot read a vote on a poll whose secret is not ours, or from a voter it cannot name", () => {
    const otherSecret = randomBytes(32); // a poll created on the phone app
    const foreign = encryptVote({ secret: otherSecret, pollId: POLL_ID, creator: OWN_PN, voter: CUSTOMER, options: ["Tarde"] });
    expect(pollVoteHashes(foreign, { secret, creators: [OWN_PN, OWN_LID], voters: [CUSTOMER, CUSTOMER_LID] })).toBeNull();
    const byLid = encryptVote({ secret, pollId: POLL_ID, creator: OWN_PN, voter: CUSTOMER_LID, options: ["Tarde"] });
    expect(pollVoteHashes(byLid, { secret, creators: [OWN_PN, OWN_LID], voters: [CUSTOMER, null] })).toBeNull();
  });
});

describe("poll votes through the connection manager (unit, around the socket)", () => {
  const managers: ConnectionManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  it("a poll sent through the API, voted on from a LID chat: the edge gets the vote's hashes; the poll's own echo is not a received message", async () => {
    const { edge, manager, sock } = await openManager({
      instanceId,
      cipher,
      me: { id: "5511999990001:3@s.whatsapp.net", lid: "98765432109876:3@lid", name: "Pombo" },
      logger: silent,
    });
    managers.push(manager);

    const sent = await edge.edge.call("message.send", {
      message_id: "msg_poll",
      wa_message_id: POLL_ID,
      chat_jid: CUSTOMER,
      content: { type: "poll", name: "Qual horário?", options: ["Manhã", "Tarde", "Noite"], selectable_count: 1 },
    });
    // Baileys echoes every send back as an `append` upsert.
    sock.ev.emit("messages.upsert", {
      type: "append",
      messages: [{ key: { remoteJid: CUSTOMER, fromMe: true, id: POLL_ID }, message: { pollCreationMessageV3: { name: "Qual horário?" } } }],
    });

    const vote = encryptVote({ secret: Buffer.from(sent.message_secret!, "base64"), pollId: POLL_ID, creator: OWN_LID, voter: CUSTOMER_LID, options: ["Tarde"] });
    sock.ev.emit("messages.upsert", {
      type: "notify",
      messages: [
        {
          key: { remoteJid: CUSTOMER_LID, remoteJidAlt: CUSTOMER, fromMe: false, id: "3A0V0TE1" },
          messageTimestamp: 1_750_000_500,
          pushName: "Maria",
          message: {
            pollUpdateMessage: {
              pollCreationMessageKey: { remoteJid: CUSTOMER_LID, fromMe: true, id: POLL_ID },
              vote: { encPayload: vote.enc_payload, encIv: vote.enc_iv },
              senderTimestampMs: 1_750_000_500_000,
            },
          },
        },
      ],
    });

    await until(() => edge.stored.size === 1, 3_000, "the vote stored");
    const stored = edge.stored.get("3A0V0TE1")!;
    expect(stored).toMatchObject({
      type: "poll_vote",
      chat_jid: CUSTOMER_LID,
      chat_jid_alt: CUSTOMER,
      quoted_id: POLL_ID,
      poll_vote: { poll_message_id: POLL_ID, selected_hashes: [hex("Tarde")] },
    });
    // The LID pair the vote taught went to the edge before the vote itself.
    const kinds = edge.arrivals.map((a) => a.kind);
    expect(kinds).toEqual(["lid.mappings", "message.received"]);
    expect(edge.arrivals[0]).toEqual({ kind: "lid.mappings", mappings: [{ lid: CUSTOMER_LID, pn: CUSTOMER }] });
    // Nothing else reached the edge as received: not the poll's echo.
    expect(edge.stored.has(POLL_ID)).toBe(false);
  });
});

/**
 * Status posts as the test peer receives them. A status goes to
 * `status@broadcast` as WhatsApp's group messages do: its content is one
 * `skmsg` encrypted with the sender's sender key, and each recipient device
 * that does not have that key yet gets it in a direct `pkmsg`/`msg` (a
 * `senderKeyDistributionMessage`). The patched peer accepts such a send and
 * records the decrypted distribution message (`plaintext`) next to the raw
 * node; this keeps the distributed keys and opens each post's `skmsg` with
 * them, using Baileys' own sender-key (group) cipher, so a post arrives as
 * the `proto.Message` its audience would read.
 */
import { proto, unpadRandomMax16 } from "@whiskeysockets/baileys";
import { GroupCipher, GroupSessionBuilder, SenderKeyDistributionMessage, SenderKeyName, SenderKeyRecord } from "@whiskeysockets/baileys/lib/Signal/Group/index.js";
import type { AcceptedMessage } from "./decode.ts";

export const STATUS_JID = "status@broadcast";

type Sanitized = { tag?: string; attrs?: Record<string, string>; content?: unknown };
type StatusRecord = { accepted: true; at?: string; plaintext?: string; body: Sanitized };

/** Whether a recorder record is an accepted status post. */
export function isStatusRecord(record: unknown): record is StatusRecord {
  const r = record as { accepted?: unknown; body?: Sanitized };
  return r?.accepted === true && r.body?.attrs?.to === STATUS_JID;
}

/** One sender per peer here (the number it serves): one key name for every post. */
const SENDER = new SenderKeyName(STATUS_JID, { id: "sender", deviceId: 0, toString: () => "sender.0" });

export class StatusPosts {
  #records = new Map<string, SenderKeyRecord>();
  #store = {
    loadSenderKey: async (name: SenderKeyName) => this.#records.get(name.toString()) ?? new SenderKeyRecord(),
    storeSenderKey: async (name: SenderKeyName, record: SenderKeyRecord) => {
      this.#records.set(name.toString(), record);
    },
  };
  /** Posts open in the order they arrived: a sender key's chain moves forward. */
  #last: Promise<unknown> = Promise.resolve();

  /** The post a record holds, decrypted; its key first, when the record carries one. */
  open(record: StatusRecord): Promise<AcceptedMessage> {
    const opened = this.#last.then(() => this.#open(record));
    this.#last = opened.catch(() => {});
    return opened;
  }

  async #open(record: StatusRecord): Promise<AcceptedMessage> {
    if (record.plaintext) {
      const distribution = proto.Message.decode(Buffer.from(record.plaintext, "base64")).senderKeyDistributionMessage;
      const key = distribution?.axolotlSenderKeyDistributionMessage;
      if (key) await new GroupSessionBuilder(this.#store).process(SENDER, new SenderKeyDistributionMessage(null, null, null, null, key));
    }
    const skmsg = findEnc(record.body, "skmsg");
    if (!skmsg) throw new Error(`status ${record.body.attrs?.id} has no skmsg`);
    const padded = await new GroupCipher(this.#store, SENDER).decrypt(skmsg);
    return {
      id: record.body.attrs?.id ?? "",
      to: STATUS_JID,
      at: record.at ?? "",
      message: proto.Message.decode(unpadRandomMax16(padded)),
    };
  }
}

/** The devices a status post was given its key for (`<participants><to jid=...>`): those new to the sender's key. */
export function keyRecipients(record: StatusRecord): string[] {
  const participants = (Array.isArray(record.body.content) ? (record.body.content as Sanitized[]) : []).find((c) => c.tag === "participants");
  return (Array.isArray(participants?.content) ? (participants.content as Sanitized[]) : []).flatMap((to) => (to.attrs?.jid ? [to.attrs.jid] : []));
}

/** The bytes of the first `<enc type=...>` in a recorded node. */
function findEnc(node: Sanitized, type: string): Uint8Array | null {
  if (node.tag === "enc" && node.attrs?.type === type) {
    const content = node.content as { type?: string; base64?: string } | undefined;
    return content?.base64 ? Buffer.from(content.base64, "base64") : null;
  }
  for (const child of Array.isArray(node.content) ? (node.content as Sanitized[]) : []) {
    const found = findEnc(child, type);
    if (found) return found;
  }
  return null;
}

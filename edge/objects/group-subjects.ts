/**
 * The subjects of the WhatsApp groups a number is in, as it last heard them:
 * what its received group messages are labelled with (`group.subject` on
 * `message.received`). Learned from `group.updated` events, and for a group
 * not seen before from one `groups.get` to the number (at most once per
 * group while this object is awake, never per message). Best effort: an
 * unknown subject is null, and the message is not held for it long.
 */
import type { RpcPeer } from "../../shared/rpc.ts";
import type { InstanceStorage } from "./instance-storage.ts";

/** The most groups remembered (the oldest learned goes first). */
const MAX_GROUPS = 1_000;
/** How long a message waits for its group's subject the first time. */
const ASK_TIMEOUT_MS = 5_000;

export class GroupSubjects {
  readonly #storage: InstanceStorage;
  readonly #readyFleet: () => Promise<RpcPeer | null>;
  /** Groups already asked about while awake: a group the number cannot read is not asked again per message. */
  readonly #asked = new Set<string>();

  constructor(storage: InstanceStorage, readyFleet: () => Promise<RpcPeer | null>) {
    this.#storage = storage;
    this.#readyFleet = readyFleet;
  }

  async subjectOf(jid: string): Promise<string | null> {
    const known = (await this.#storage.get("group_subjects"))?.[jid];
    if (known !== undefined) return known;
    if (this.#asked.has(jid)) return null;
    this.#asked.add(jid);
    const fleet = await this.#readyFleet();
    if (!fleet) return null;
    try {
      const { group } = await fleet.call("groups.get", { jid }, ASK_TIMEOUT_MS);
      if (typeof group?.subject !== "string") return null;
      await this.remember(jid, group.subject);
      return group.subject;
    } catch (err) {
      console.warn("group subject not learned:", err instanceof Error ? err.message : err);
      return null;
    }
  }

  async remember(jid: string, subject: string): Promise<void> {
    const all = { ...(await this.#storage.get("group_subjects")) };
    delete all[jid];
    all[jid] = subject;
    const keys = Object.keys(all);
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_GROUPS))) delete all[old];
    await this.#storage.put("group_subjects", all);
  }
}

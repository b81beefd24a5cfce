/**
 * Whose presence one number watches (POST /conversations/{jid}/presence/subscribe),
 * kept by its Durable Object, and what it hears of them.
 *
 * WhatsApp forgets a subscription when the socket closes, so the number
 * names its chats again every time it comes online, whichever fleet process
 * runs it then: a subscription lasts until it is deleted or the number is
 * logged out, across reconnects, fleet restarts and lease moves.
 *
 * This is also the one place that decides whether the number shows itself
 * online: while it has any subscription (WhatsApp sends presence only to an
 * online client), or always with its `always_online` setting
 * (services/number-settings.ts); otherwise it stays offline, so the phone
 * keeps its notifications.
 *
 * What the fleet hears (`presence.update`) becomes the project's
 * `presence.update` event for the chats subscribed to, with the person's
 * canonical JID (a LID resolved to its phone JID when WhatsApp told us it).
 */
import { MAX_PRESENCE_SUBSCRIPTIONS, type PresenceUpdate } from "../../shared/protocol.ts";
import type { RpcPeer } from "../../shared/rpc.ts";
import { db } from "../db/client.ts";
import { pnForLid } from "../db/lid-map.ts";
import type { Env } from "../env.ts";
import { publish } from "../services/events.ts";
import { isLid } from "../services/jids.ts";
import type { InstanceMeta, InstanceStorage } from "./instance-storage.ts";

const CALL_TIMEOUT_MS = 20_000;

export type Subscribed = { ok: true; subscriptions: number } | { ok: false; code: "too_many_subscriptions"; limit: number };

export class PresenceWatch {
  readonly #env: Env;
  readonly #storage: InstanceStorage;
  /** The live lease holder's peer when the number is connected, else null. */
  readonly #readyFleet: () => Promise<RpcPeer | null>;
  /** The number's `always_online` setting. */
  readonly #alwaysOnline: () => Promise<boolean>;

  constructor(env: Env, storage: InstanceStorage, readyFleet: () => Promise<RpcPeer | null>, alwaysOnline: () => Promise<boolean>) {
    this.#env = env;
    this.#storage = storage;
    this.#readyFleet = readyFleet;
    this.#alwaysOnline = alwaysOnline;
  }

  async subscriptions(): Promise<string[]> {
    return (await this.#storage.get("presence_subscriptions")) ?? [];
  }

  /** Watches `jid` from now on (kept), and asks WhatsApp at once if the number is online. */
  async subscribe(jid: string): Promise<Subscribed> {
    let watched = await this.subscriptions();
    if (!watched.includes(jid)) {
      if (watched.length >= MAX_PRESENCE_SUBSCRIPTIONS) return { ok: false, code: "too_many_subscriptions", limit: MAX_PRESENCE_SUBSCRIPTIONS };
      watched = [...watched, jid];
      await this.#storage.put("presence_subscriptions", watched);
    }
    await this.#tell([jid], true);
    return { ok: true, subscriptions: watched.length };
  }

  /** Stops watching `jid`; the number goes back offline when it watches nobody (and is not always online). False when it was not watched. */
  async unsubscribe(jid: string): Promise<boolean> {
    const current = await this.subscriptions();
    if (!current.includes(jid)) return false;
    const rest = current.filter((j) => j !== jid);
    await this.#storage.put("presence_subscriptions", rest);
    if (rest.length === 0 && !(await this.#alwaysOnline())) await this.#tell([], false);
    return true;
  }

  /** The number came online: WhatsApp has forgotten its subscriptions, and shows it offline. */
  async connected(): Promise<void> {
    const jids = await this.subscriptions();
    if (jids.length > 0 || (await this.#alwaysOnline())) await this.#tell(jids, true);
  }

  /** `always_online` changed: online now, or offline unless subscriptions still need it. */
  async alwaysOnline(on: boolean): Promise<void> {
    if (on) await this.#tell([], true);
    else if ((await this.subscriptions()).length === 0) await this.#tell([], false);
  }

  /** Logged out: whoever pairs the number next starts with no subscriptions. */
  async forget(): Promise<void> {
    await this.#storage.delete("presence_subscriptions");
  }

  /** What the number heard: the project hears it when the person's chat is subscribed to. */
  async heard(meta: InstanceMeta, update: PresenceUpdate): Promise<void> {
    const watched = await this.subscriptions();
    const jid = await this.#canonical(meta.project_id, update.jid);
    if (!watched.includes(jid) && !watched.includes(update.jid) && !watched.includes(update.chat_jid)) return;
    await publish(this.#env, meta.project_id, {
      type: "presence.update",
      instance_id: meta.instance_id,
      payload: { jid, state: update.state, last_seen: update.last_seen === null ? null : new Date(update.last_seen * 1000).toISOString() },
    });
  }

  async #canonical(projectId: string, jid: string): Promise<string> {
    if (!isLid(jid)) return jid;
    return (await pnForLid(db(this.#env.DB), projectId, jid)) ?? jid;
  }

  /** Best effort: a number offline now is told on its next connect. */
  async #tell(jids: string[], online: boolean): Promise<void> {
    const fleet = await this.#readyFleet();
    if (!fleet) return;
    try {
      await fleet.call("presence.subscribe", { jids, online }, CALL_TIMEOUT_MS);
    } catch (err) {
      console.warn(`presence: the fleet did not subscribe to ${jids.length} chats:`, err instanceof Error ? err.message : err);
    }
  }
}

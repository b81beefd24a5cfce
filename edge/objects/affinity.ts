/**
 * Which number talked to one contact before `chat_numbers` (D1) held it:
 * one small Durable Object per (project, contact JID), reached through
 * `affinityOf` (stubs.ts). Kept only so that chats stuck on an existing
 * deployment keep their number: services/chat-numbers.ts asks a chat's
 * object once, when the table has no row for it, and copies its answer into
 * the table. Nothing writes here any more; it can go once deployments have
 * run a while on the table.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TypedStorage } from "./typed-storage.ts";

/** What the object keeps: the number the contact is stuck to. No SQL tables. */
type AffinityKeys = { instance_id: string };

export class ContactAffinity extends DurableObject<Env> {
  readonly #storage = new TypedStorage<AffinityKeys>(this.ctx.storage);

  /** The stuck number, if it is one of `usable` (connected and healthy). */
  async current(usable: string[]): Promise<string | null> {
    const stuck = await this.#storage.get("instance_id");
    return stuck && usable.includes(stuck) ? stuck : null;
  }

  /**
   * Sticks the contact to `candidate` unless it already has a usable number,
   * and returns whichever number it has now.
   */
  async stick(candidate: string, usable: string[]): Promise<string> {
    const stuck = await this.current(usable);
    if (stuck) return stuck;
    await this.#storage.put("instance_id", candidate);
    return candidate;
  }

  /**
   * An inbound message, or a pinned send, makes that number the contact's.
   * Written only when it changes: a customer mostly writes to the number
   * they wrote to before, and a read costs far less than a write.
   */
  async set(instanceId: string): Promise<void> {
    if ((await this.#storage.get("instance_id")) !== instanceId) await this.#storage.put("instance_id", instanceId);
  }

  async get(): Promise<string | null> {
    return (await this.#storage.get("instance_id")) ?? null;
  }
}

/**
 * Which number talks to one contact: one small Durable Object per
 * (project, contact JID). Being a single writer is the whole point: two
 * hundred concurrent first messages to a new contact all ask this object,
 * one at a time, and all get the same number.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";

export class ContactAffinity extends DurableObject<Env> {
  /** The stuck number, if it is one of `usable` (connected and healthy). */
  async current(usable: string[]): Promise<string | null> {
    const stuck = await this.ctx.storage.get<string>("instance_id");
    return stuck && usable.includes(stuck) ? stuck : null;
  }

  /**
   * Sticks the contact to `candidate` unless it already has a usable number,
   * and returns whichever number it has now.
   */
  async stick(candidate: string, usable: string[]): Promise<string> {
    const stuck = await this.current(usable);
    if (stuck) return stuck;
    await this.ctx.storage.put("instance_id", candidate);
    return candidate;
  }

  /** An inbound message, or a pinned send, makes that number the contact's. */
  async set(instanceId: string): Promise<void> {
    await this.ctx.storage.put("instance_id", instanceId);
  }

  async get(): Promise<string | null> {
    return (await this.ctx.storage.get<string>("instance_id")) ?? null;
  }
}

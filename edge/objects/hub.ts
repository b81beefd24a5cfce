/**
 * STUB (issue 4, helper B fills it in): one EventHub per project.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import type { PomboEvent } from "../services/events.ts";

export class EventHub extends DurableObject<Env> {
  async publish(_projectId: string, _events: PomboEvent[]): Promise<void> {}
}

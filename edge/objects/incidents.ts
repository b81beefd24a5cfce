/**
 * A number's health incidents, kept in its Durable Object's storage.
 * services/health.ts says what each one costs and how they fade into the
 * score; this keeps the list.
 */
import { type IncidentKind, healthScore, recordIncident } from "../services/health.ts";
import type { InstanceStorage } from "./instance-storage.ts";

export class Incidents {
  readonly #storage: InstanceStorage;

  constructor(storage: InstanceStorage) {
    this.#storage = storage;
  }

  async score(): Promise<number> {
    return healthScore((await this.#storage.get("incidents")) ?? []);
  }

  /** Records one incident; the score it leaves. */
  async record(kind: IncidentKind): Promise<number> {
    const incidents = recordIncident((await this.#storage.get("incidents")) ?? [], kind);
    await this.#storage.put("incidents", incidents);
    return healthScore(incidents);
  }
}

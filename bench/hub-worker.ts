/**
 * The Worker `bench:hub` runs: the real one (edge/index.ts, every route and
 * Durable Object as deployed) plus one route of its own, `POST
 * /__bench/publish`, which hands events to `publish()` as the send and
 * receive paths do, and answers how long that took. It exists only in this
 * entry (bench/hub.ts writes a config naming it), so production has no such
 * door; the alternative, driving the hub through real producers (sends or
 * received messages), would measure the fleet, D1 and the numbers' objects
 * far more than the hub.
 *
 * Body: `{ "project_id", "events": [NewEvent, ...] }`; admin token only.
 */
import worker from "../edge/index.ts";
import type { Env } from "../edge/env.ts";
import { type NewEvent, publish } from "../edge/services/events.ts";
import type { DeliveryJob } from "../edge/services/webhook-delivery.ts";

export { ContactAffinity, EventHub, FleetDirectory, InstanceObject } from "../edge/index.ts";

export default {
  ...worker,
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/__bench/publish") return worker.fetch!(request, env, ctx);
    if (request.method !== "POST" || request.headers.get("authorization") !== `Bearer ${env.POMBO_ADMIN_TOKEN}`) {
      return new Response("admin token and POST only", { status: 401 });
    }
    const { project_id, events } = (await request.json()) as { project_id: string; events: NewEvent[] };
    // The Worker's clock moves with I/O only: this is the publish's wait (the hub's round trip), not its CPU.
    const started = Date.now();
    const published = await publish(env, project_id, ...events);
    return Response.json({ ids: published.map((e) => e.id), ms: Date.now() - started });
  },
} satisfies ExportedHandler<Env, DeliveryJob>;

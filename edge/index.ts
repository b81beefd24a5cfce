/** The Worker's entry point: the HTTP app and the Durable Object classes it binds. */
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";
import { purgeOutboundMedia } from "./services/media-retention.ts";
import { type DeliveryJob, handleQueueBatch } from "./services/webhook-delivery.ts";

export { ContactAffinity } from "./objects/affinity.ts";
export { FleetDirectory } from "./objects/directory.ts";
export { EventHub } from "./objects/hub.ts";
export { InstanceObject } from "./objects/instance.ts";

const app = createApp();

const worker: ExportedHandler<Env, DeliveryJob> = {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Webhook deliveries and their dead letters.
  queue: (batch, env) => handleQueueBatch(batch, env),
  // The cron trigger (wrangler.toml): files clients sent, kept long enough, leave R2.
  scheduled: async (_controller, env) => {
    await purgeOutboundMedia(env);
  },
};

export default worker;

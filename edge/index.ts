/** The Worker's entry point: the HTTP app and the Durable Object classes it binds. */
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";

export { ContactAffinity } from "./objects/affinity.ts";
export { FleetDirectory } from "./objects/directory.ts";
export { InstanceObject } from "./objects/instance.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

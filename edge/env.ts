import type { FleetDirectory } from "./objects/directory.ts";
import type { InstanceObject } from "./objects/instance.ts";

/** Bindings and variables of the Worker (see wrangler.toml). */
export type Env = {
  DB: D1Database;
  INSTANCE: DurableObjectNamespace<InstanceObject>;
  DIRECTORY: DurableObjectNamespace<FleetDirectory>;
  /** Operator secret for /admin. Unset means /admin is closed. */
  POMBO_ADMIN_TOKEN?: string;
  /** Shared secret fleet processes present on /fleet. Unset means /fleet is closed. */
  POMBO_FLEET_TOKEN?: string;
};

/** What middleware puts on the request context. */
export type Vars = {
  projectId: string;
};

export type AppEnv = { Bindings: Env; Variables: Vars };

import type { ContactAffinity } from "./objects/affinity.ts";
import type { FleetDirectory } from "./objects/directory.ts";
import type { InstanceObject } from "./objects/instance.ts";

/** Bindings and variables of the Worker (see wrangler.toml). */
export type Env = {
  DB: D1Database;
  INSTANCE: DurableObjectNamespace<InstanceObject>;
  DIRECTORY: DurableObjectNamespace<FleetDirectory>;
  AFFINITY: DurableObjectNamespace<ContactAffinity>;
  MEDIA: R2Bucket;
  /** Operator secret for /admin. Unset means /admin is closed. */
  POMBO_ADMIN_TOKEN?: string;
  /** Shared secret fleet processes present on /fleet. Unset means /fleet is closed. */
  POMBO_FLEET_TOKEN?: string;
  /** Encrypts secrets that must wait in a queue (OTP codes). Unset: OTP sends are refused. */
  POMBO_DATA_KEY?: string;
  /** "true" lets media URLs point at private and loopback addresses (local testing). */
  POMBO_ALLOW_PRIVATE_NETWORKS?: string;
};

/** What middleware puts on the request context. */
export type Vars = {
  projectId: string;
};

export type AppEnv = { Bindings: Env; Variables: Vars };

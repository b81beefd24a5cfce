import type { ContactAffinity } from "./objects/affinity.ts";
import type { FleetDirectory } from "./objects/directory.ts";
import type { EventHub } from "./objects/hub.ts";
import type { InstanceObject } from "./objects/instance.ts";
import type { DeliveryJob } from "./services/delivery-jobs.ts";

/** Bindings and variables of the Worker (see wrangler.toml). */
export type Env = {
  DB: D1Database;
  INSTANCE: DurableObjectNamespace<InstanceObject>;
  DIRECTORY: DurableObjectNamespace<FleetDirectory>;
  AFFINITY: DurableObjectNamespace<ContactAffinity>;
  /** One per project: the event log for SSE resume, live SSE fan-out, and webhook dispatch. */
  EVENTS: DurableObjectNamespace<EventHub>;
  MEDIA: R2Bucket;
  /** The console and the reference UI's script (wrangler.toml `[assets]`, built by scripts/build-assets.ts). */
  ASSETS: Fetcher;
  /** Webhook deliveries: one message per (event, webhook), retried with backoff. */
  WEBHOOKS: Queue<DeliveryJob>;
  /** Requests per API key (rate-limits.ts; limit and period in wrangler.toml). */
  KEY_RATE_LIMIT: RateLimit;
  /** Unknown or revoked keys, and made-up stream tokens, per client address. */
  BAD_KEY_RATE_LIMIT: RateLimit;
  /** Operator secret for /admin. Unset means /admin is closed. */
  POMBO_ADMIN_TOKEN?: string;
  /** Shared secret fleet processes present on /fleet. Unset means /fleet is closed. */
  POMBO_FLEET_TOKEN?: string;
  /** Encrypts secrets that must wait in a queue (OTP codes). Unset: OTP sends are refused. */
  POMBO_DATA_KEY?: string;
  /** "production" (set by `npm run deploy`): the edge refuses to serve while a required secret is missing or malformed (services/edge-config.ts). Else development. */
  POMBO_ENV?: string;
  /** "true" lets media, webhook, alert and proxy URLs point at private and loopback addresses (local testing). */
  POMBO_ALLOW_PRIVATE_NETWORKS?: string;
  /** DNS over HTTPS endpoint (JSON API) names in client URLs are resolved with (default Cloudflare's). */
  POMBO_DOH_URL?: string;
  /** The API's public origin, e.g. `https://api.example.com`: media links in events point here. */
  POMBO_PUBLIC_URL?: string;
  /** Lifetime of signed media links, in seconds (default 86400). */
  MEDIA_URL_TTL?: string;
  /**
   * R2's S3 endpoint and credentials, for presigned URLs (received media goes
   * straight from the fleet to the bucket). Locally: wrangler's endpoint,
   * `<edge>/cdn-cgi/local/r2/s3`, with the credentials in wrangler.toml.
   */
  POMBO_R2_S3_ENDPOINT?: string;
  POMBO_R2_ACCESS_KEY_ID?: string;
  POMBO_R2_SECRET_ACCESS_KEY?: string;
  POMBO_R2_BUCKET?: string;
  /** First webhook retry delay in seconds (doubles each attempt, with jitter; default 10). */
  POMBO_WEBHOOK_RETRY_BASE_S?: string;
  /** Longest delay between two webhook attempts, in seconds (default and most: 43200, 12 h). */
  POMBO_WEBHOOK_RETRY_MAX_S?: string;
  /** An endpoint failing this many hours without a success is disabled (default 72). */
  POMBO_WEBHOOK_DISABLE_AFTER_H?: string;
  /** Event hubs per project (services/event-shards.ts; default 1, at most 64). Raise it, never lower it. */
  POMBO_EVENT_SHARDS?: string;
};

/** What middleware puts on the request context. */
export type Vars = {
  projectId: string;
};

export type AppEnv = { Bindings: Env; Variables: Vars };

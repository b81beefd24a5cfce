/**
 * The settings the edge needs to do its job, and what makes each usable in
 * production. Pure (no Worker imports): `npm run deploy` applies the same
 * rules before it sets a secret, so a deploy that passes them starts an edge
 * that serves.
 *
 * Production is `POMBO_ENV=production`, which `npm run deploy` sets in the
 * config it deploys; anything else (`wrangler dev`, the tests) is
 * development, where only missing settings count and the local example
 * values work.
 */
// No import of the Worker's Env: `npm run deploy` imports this module in Node (edge-status.ts checks the names against Env).
import { randomSecretProblem } from "../../shared/secret-rules.ts";

/**
 * Without these the edge cannot do its job: /admin and /fleet are closed
 * without their tokens, OTP sends, webhooks and media links need the data
 * key, and received media needs the R2 keys to presign with.
 */
export const REQUIRED_SECRETS = [
  "POMBO_ADMIN_TOKEN",
  "POMBO_FLEET_TOKEN",
  "POMBO_DATA_KEY",
  "POMBO_R2_S3_ENDPOINT",
  "POMBO_R2_ACCESS_KEY_ID",
  "POMBO_R2_SECRET_ACCESS_KEY",
] as const;

export type RequiredSecret = (typeof REQUIRED_SECRETS)[number];
/** The part of the Worker's Env these rules read. */
type Settings = { POMBO_ENV?: string } & Partial<Record<RequiredSecret, string>>;

export const PRODUCTION = "production";
export const isProduction = (env: Settings) => env.POMBO_ENV?.trim().toLowerCase() === PRODUCTION;

/** An S3 key is printable and unspaced; these lengths only catch a truncated paste (R2's are longer). */
const s3Key = (min: number) => (value: string) =>
  value.length < min ? `has ${value.length} characters; an R2 API token's value is longer: copy it again from R2 > Manage API tokens` : /\s/.test(value) ? "contains whitespace" : null;

const FORMATS: Record<RequiredSecret, (value: string) => string | null> = {
  // Bearer tokens and HKDF key material: guessable means anyone can call /admin or /fleet, or read sealed data.
  POMBO_ADMIN_TOKEN: (value) => randomSecretProblem(value),
  POMBO_FLEET_TOKEN: (value) => randomSecretProblem(value),
  POMBO_DATA_KEY: (value) => randomSecretProblem(value),
  // Presigned URLs go to clients' and fleets' hands: they must be https, and point at R2's S3 API.
  POMBO_R2_S3_ENDPOINT: (value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return "is not a URL; it must be https://<ACCOUNT_ID>.r2.cloudflarestorage.com";
    }
    if (url.protocol !== "https:") return "must be an https URL, https://<ACCOUNT_ID>.r2.cloudflarestorage.com";
    if (url.search || url.hash || url.username) return "must be a bare origin (no query, fragment or credentials)";
    return null;
  },
  POMBO_R2_ACCESS_KEY_ID: s3Key(16),
  POMBO_R2_SECRET_ACCESS_KEY: s3Key(32),
};

/** Why `value` cannot be `name` in production ("is missing", "has 12 characters; ..."), or null. Never quotes it. */
export function settingProblem(name: RequiredSecret, value: string | undefined): string | null {
  const text = value?.trim();
  if (!text) return "is missing";
  return FORMATS[name](text);
}

export type ConfigProblems = { missing: RequiredSecret[]; malformed: RequiredSecret[] };

/** Missing settings always; malformed ones only in production, where development's example values do not do. */
export function configProblems(env: Settings): ConfigProblems {
  const missing = REQUIRED_SECRETS.filter((name) => !env[name]?.trim());
  const malformed = isProduction(env) ? REQUIRED_SECRETS.filter((name) => env[name]?.trim() && settingProblem(name, env[name])) : [];
  return { missing, malformed };
}

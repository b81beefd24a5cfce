/**
 * Variables the edge needs when it runs under `wrangler dev` on this machine
 * (used by `npm start` and the end-to-end tests).
 *
 * Received media goes from the fleet straight into R2 through presigned URLs.
 * wrangler dev serves the bucket's S3 API under `/cdn-cgi/local/r2/s3` with
 * the credentials set in wrangler.toml (`local_dev.experimental_s3_credentials`),
 * so the same presigned-URL path as production runs offline.
 *
 * Names in client URLs are resolved through `dohUrl`, the local responder of
 * local-doh.ts, so the edge checks what this machine's resolver answers.
 */
import { chmodSync, writeFileSync } from "node:fs";

export const LOCAL_R2_CREDENTIALS = {
  // Must match wrangler.toml's r2_buckets local_dev block.
  accessKeyId: "pombo-local-r2",
  secretAccessKey: "pombo-local-r2-secret",
};

export function localEdgeVars(edgeUrl: string, dohUrl: string): Record<string, string> {
  return {
    POMBO_DOH_URL: dohUrl,
    POMBO_PUBLIC_URL: edgeUrl,
    POMBO_R2_S3_ENDPOINT: `${edgeUrl}/cdn-cgi/local/r2/s3`,
    POMBO_R2_ACCESS_KEY_ID: LOCAL_R2_CREDENTIALS.accessKeyId,
    POMBO_R2_SECRET_ACCESS_KEY: LOCAL_R2_CREDENTIALS.secretAccessKey,
  };
}

/**
 * Hands the edge's variables to `wrangler dev` without putting them on its
 * command line, where `ps` would show them: writes them to `file` (mode 0600)
 * and returns the arguments that make wrangler read it (`--env-file`, which
 * also stops it reading `.dev.vars` or the project's `.env`). The variables
 * arrive as secrets, so wrangler's binding table prints them as "(hidden)".
 * Spawn wrangler with `WRANGLER_ENV_FILE_ENV` in its environment.
 */
export function edgeVarsFileArgs(file: string, vars: Record<string, string>): string[] {
  const lines = Object.entries(vars).map(([name, value]) => `${name}=${quoteEnvValue(name, value)}`);
  writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  chmodSync(file, 0o600); // the mode above applies only to a new file
  return ["--env-file", file];
}

/** wrangler reads `--env-file` only while loading dev vars from .env files is on, and must not mix in its own environment. */
export const WRANGLER_ENV_FILE_ENV = {
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
  CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
} as const;

/**
 * A value as dotenv reads it back byte for byte: in quotes it has none of
 * (dotenv unescapes nothing in single quotes or backticks), with every `$`
 * escaped (wrangler expands `$NAME` after parsing, then turns `\$` into `$`).
 */
function quoteEnvValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name}: a line break cannot go into an env file`);
  // Not double quotes: inside them dotenv turns a backslash and n into a line break.
  const quote = ["'", "`"].find((q) => !value.includes(q));
  if (!quote) throw new Error(`${name}: a value holding both ' and \` cannot go into an env file`);
  return quote + value.replaceAll("$", "\\$") + quote;
}

/**
 * The Worker's secrets for `npm run deploy`: read from `--secrets-file` (KEY=VALUE lines, as
 * .env) or else the environment, checked with the rules the production edge applies
 * (edge/services/edge-config.ts), and handed to wrangler only as JSON on stdin.
 * No function here returns or prints a value in a message.
 */
import { readFileSync, statSync } from "node:fs";
import { parseEnv } from "node:util";
import { REQUIRED_SECRETS, type RequiredSecret, settingProblem } from "../../edge/services/edge-config.ts";

export type SecretSource = { values: Partial<Record<RequiredSecret, string>>; from: string; warnings: string[] };

/** R2's S3 endpoint for an account (https://developers.cloudflare.com/r2/api/tokens/). */
export const r2Endpoint = (accountId: string) => `https://${accountId}.r2.cloudflarestorage.com`;

export function readSecrets(file: string | undefined, env: NodeJS.ProcessEnv = process.env): SecretSource {
  const warnings: string[] = [];
  let source: NodeJS.ProcessEnv = env;
  let from = "the environment";
  if (file) {
    // A file's values win over the environment's for the names it sets, as wrangler's --env-file does.
    const parsed = parseEnv(readFileSync(file, "utf8"));
    source = { ...env, ...parsed };
    from = `${file} (then the environment)`;
    if (statSync(file).mode & 0o077) warnings.push(`${file} can be read by other users: chmod 600 it`);
  }
  const values: SecretSource["values"] = {};
  for (const name of REQUIRED_SECRETS) {
    const value = source[name]?.trim();
    if (value) values[name] = value;
  }
  // The endpoint follows from the account id; giving the id is enough.
  const accountId = source.CLOUDFLARE_ACCOUNT_ID?.trim();
  if (!values.POMBO_R2_S3_ENDPOINT && accountId) values.POMBO_R2_S3_ENDPOINT = r2Endpoint(accountId);
  return { values, from, warnings };
}

export type SecretCheck = {
  /** Given and usable: these are set. */
  ok: RequiredSecret[];
  /** Given but refused, with why (never the value). */
  refused: { name: RequiredSecret; problem: string }[];
  /** Not given: must already be set on the Worker. */
  absent: RequiredSecret[];
};

export function checkSecrets(values: SecretSource["values"]): SecretCheck {
  const check: SecretCheck = { ok: [], refused: [], absent: [] };
  for (const name of REQUIRED_SECRETS) {
    if (values[name] === undefined) {
      check.absent.push(name);
      continue;
    }
    const problem = settingProblem(name, values[name]);
    if (problem) check.refused.push({ name, problem });
    else check.ok.push(name);
  }
  return check;
}

/** What `wrangler secret bulk` reads from stdin: a JSON object of the given, checked secrets. */
export const bulkInput = (values: SecretSource["values"], names: RequiredSecret[]) => JSON.stringify(Object.fromEntries(names.map((name) => [name, values[name]])));

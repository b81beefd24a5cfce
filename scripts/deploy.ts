/**
 * `npm run deploy`: the edge onto Cloudflare, in one idempotent command.
 *
 *   1. config     wrangler.toml checked (bindings, compatibility date, migrations)
 *   2. secrets    the Worker's secrets, from --secrets-file or the environment, checked
 *                 with the production edge's own rules (none printed, ever)
 *   3. assets     the console and /docs built (scripts/build-assets.ts)
 *   4. bundle     the Worker built (`wrangler deploy --dry-run --outdir`), its size and
 *                 the assets checked against Workers' limits
 *   5. resources  the D1 database, the R2 bucket and the queues created if missing
 *   6. ids        .pombo/deploy/wrangler.jsonc written with their ids (scripts/deploy/config.ts says why)
 *   7. migrations D1 migrations applied remotely, before the new code runs
 *   8. secrets    set with `wrangler secret bulk`, as JSON on its stdin
 *   9. deploy     `wrangler deploy`
 *
 * `--dry-run` runs 1-4 and prints what 5-9 would do: no account, no network.
 * Exit 1 on any refusal, naming the setting or file at fault.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { buildAssets } from "./build-assets.ts";
import { ConfigError, readDeployConfig, writeDeployConfig, type DeployConfig } from "./deploy/config.ts";
import { checkAssets, checkBundle, mib } from "./deploy/limits.ts";
import { BUNDLE_DIR, ROOT, SOURCE_CONFIG } from "./deploy/paths.ts";
import { ensureResources, secretsOnWorker } from "./deploy/resources.ts";
import { bulkInput, checkSecrets, readSecrets } from "./deploy/secrets.ts";
import { wrangler, WranglerError } from "./deploy/wrangler.ts";

const STEPS = 9;
class Refused extends Error {}

const say = (line: string) => process.stdout.write(`      ${line}\n`);
let step = 0;
const begin = (name: string, what: string) => process.stdout.write(`[${++step}/${STEPS}] ${name}: ${what}\n`);
const rel = (p: string) => path.relative(ROOT, p) || ".";
/** Wrangler's own lines, indented under the step. */
function relay(text: string) {
  for (const line of text.trim().split("\n")) if (line) say(`| ${line}`);
}

async function deploy(args: { dryRun: boolean; secretsFile?: string; config: string }) {
  process.stdout.write(args.dryRun ? "pombo deploy --dry-run: checks and builds only; nothing leaves this machine\n" : "pombo deploy\n");

  begin("config", `checking ${rel(args.config)}`);
  let config: DeployConfig;
  try {
    config = readDeployConfig(args.config);
  } catch (err) {
    if (err instanceof ConfigError) throw new Refused(err.message);
    throw err;
  }
  say(`Worker "${config.workerName}", compatibility date ${config.raw.compatibility_date}; D1 ${config.database.name} (${config.database.migrations} migrations), R2 ${config.bucket}, queues ${config.queues.join(", ")}`);

  begin("secrets", "checking the Worker's secrets (values are never printed)");
  let source;
  try {
    source = readSecrets(args.secretsFile);
  } catch (err) {
    throw new Refused(`cannot read --secrets-file: ${(err as Error).message}`);
  }
  source.warnings.forEach((w) => say(`warning: ${w}`));
  const check = checkSecrets(source.values);
  for (const name of check.ok) say(`ok       ${name}`);
  for (const { name, problem } of check.refused) say(`REFUSED  ${name} ${problem}`);
  for (const name of check.absent) say(`not given ${name}${args.dryRun ? " (a deploy needs it given, or already set on the Worker)" : ""}`);
  if (check.refused.length) throw new Refused(`refused: ${check.refused.map((r) => r.name).join(", ")} (read from ${source.from})`);
  if (!args.dryRun && check.absent.length) {
    const onWorker = await secretsOnWorker(SOURCE_CONFIG);
    const missing = check.absent.filter((name) => !onWorker.includes(name));
    if (missing.length) throw new Refused(`missing: ${missing.join(", ")}: not given (environment or --secrets-file) and not set on the Worker`);
    say(`kept as set on the Worker: ${check.absent.join(", ")}`);
  }

  begin("assets", "building the console and /docs (scripts/build-assets.ts)");
  await buildAssets();
  const assets = checkAssets(config.assetsDir);
  say(`${assets.files} files, ${mib(assets.bytes)}; largest ${assets.largest?.file} (${mib(assets.largest?.bytes ?? 0)}); limits: 20000 files, 25 MiB a file`);
  if (assets.problems.length) throw new Refused(assets.problems.join("; "));

  begin("bundle", `building the Worker (wrangler deploy --dry-run --outdir ${rel(BUNDLE_DIR)}) and checking its size`);
  // Built from the config that is deployed, so the dry run checks that file too; its D1 id is replaced in step 6.
  const placeholderId = config.raw.d1_databases!.find((d) => d.binding === "DB")!.database_id ?? "00000000-0000-0000-0000-000000000000";
  let deployConfig = writeDeployConfig(config, placeholderId);
  const bundle = checkBundle((await wrangler(["deploy", "--dry-run", "--outdir", BUNDLE_DIR, "-c", deployConfig])).stdout);
  say(`Worker: ${mib(bundle.bytes)}, ${mib(bundle.gzipBytes)} compressed (limits: 3 MiB Free, 10 MiB Paid); start-up time is checked by Cloudflare at upload`);
  bundle.notes.forEach((n) => say(`note: ${n}`));
  if (bundle.problems.length) throw new Refused(bundle.problems.join("; "));

  if (args.dryRun) {
    const plan = [
      ["resources", `would create, if missing: D1 database ${config.database.name}, R2 bucket ${config.bucket}, queues ${config.queues.join(", ")}`],
      ["ids", `would write ${rel(deployConfig)} with the D1 database's id and POMBO_ENV=production`],
      ["migrations", `would apply the pending ones of ${config.database.migrations} D1 migrations remotely (wrangler d1 migrations apply ${config.database.name} --remote)`],
      ["secrets", check.ok.length ? `would set ${check.ok.join(", ")} (wrangler secret bulk, JSON on stdin)` : "none given: would keep those set on the Worker, and refuse if one is not"],
      ["deploy", `would run wrangler deploy (Worker "${config.workerName}", ${mib(bundle.gzipBytes)} compressed, ${assets.files} assets)`],
    ];
    for (const [name, what] of plan) begin(name!, `skipped (dry run): ${what}`);
    process.stdout.write("dry run passed\n");
    return;
  }

  begin("resources", "creating what is missing (D1, R2, queues)");
  const resources = await ensureResources(config, say);

  begin("ids", `writing ${rel(deployConfig)}`);
  deployConfig = writeDeployConfig(config, resources[0]!.id!);
  say(`D1 ${config.database.name} = ${resources[0]!.id}; POMBO_ENV=production`);

  begin("migrations", `applying D1 migrations to ${config.database.name} (remote)`);
  relay((await wrangler(["d1", "migrations", "apply", config.database.name, "--remote", "-c", deployConfig])).stdout);

  begin("secrets", check.ok.length ? `setting ${check.ok.join(", ")}` : "none given, the Worker's are kept");
  if (check.ok.length) await wrangler(["secret", "bulk", "-c", deployConfig], { input: bulkInput(source.values, check.ok) });

  begin("deploy", "wrangler deploy");
  relay((await wrangler(["deploy", "-c", deployConfig])).stdout);
  process.stdout.write("deployed. Check it: curl https://<your Worker's URL>/health\n");
}

const { values } = parseArgs({
  options: {
    "dry-run": { type: "boolean", default: false },
    "secrets-file": { type: "string" },
    // For tests: check another config than the repository's.
    config: { type: "string", default: SOURCE_CONFIG },
  },
});

try {
  await deploy({ dryRun: values["dry-run"]!, secretsFile: values["secrets-file"], config: path.resolve(values.config!) });
} catch (err) {
  if (err instanceof Refused || err instanceof WranglerError) {
    process.stderr.write(`pombo deploy: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

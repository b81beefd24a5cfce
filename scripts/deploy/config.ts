/**
 * The deploy config: wrangler.toml checked, then turned into what wrangler
 * deploys (.pombo/deploy/wrangler.jsonc) with this account's ids in it.
 *
 * Why generated rather than edited: wrangler.toml is committed and shared by
 * every checkout (`npm start`, the tests, each operator's own account), so
 * an account's D1 id written into it would be one operator's id in everyone's
 * clone, and a merge conflict on every upgrade. The ids are looked up by name
 * on every deploy, so the generated file is never the only record of them.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { experimental_readRawConfig } from "wrangler";
import { REQUIRED_SECRETS, PRODUCTION } from "../../edge/services/edge-config.ts";
import { DEPLOY_CONFIG, DEPLOY_DIR, ROOT } from "./paths.ts";

/** The bindings edge/env.ts declares, by kind: a config without one deploys a Worker that fails at its first use. */
const BINDINGS = {
  d1_databases: ["DB"],
  r2_buckets: ["MEDIA"],
  durable_objects: ["INSTANCE", "DIRECTORY", "AFFINITY", "EVENTS"],
  queue_producers: ["WEBHOOKS"],
} as const;

type RawConfig = Record<string, unknown> & {
  name?: string;
  main?: string;
  compatibility_date?: string;
  assets?: { directory?: string };
  d1_databases?: { binding: string; database_name: string; database_id?: string; migrations_dir?: string }[];
  r2_buckets?: { binding: string; bucket_name: string; local_dev?: unknown }[];
  durable_objects?: { bindings?: { name: string }[] };
  queues?: { producers?: { binding: string; queue: string }[]; consumers?: { queue: string; dead_letter_queue?: string }[] };
  vars?: Record<string, string>;
};

export type DeployConfig = {
  raw: RawConfig;
  configPath: string;
  workerName: string;
  database: { name: string; migrationsDir: string; migrations: number };
  bucket: string;
  /** Every queue the Worker produces to or consumes from, dead-letter queues included. */
  queues: string[];
  assetsDir: string;
};

export class ConfigError extends Error {
  constructor(configPath: string, problems: string[]) {
    super(`${path.relative(ROOT, configPath)} is not deployable:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Reads and checks the committed config; throws ConfigError listing every problem found. */
export function readDeployConfig(configPath: string): DeployConfig {
  if (!existsSync(configPath)) throw new ConfigError(configPath, ["the file does not exist"]);
  let raw: RawConfig;
  try {
    raw = experimental_readRawConfig({ config: configPath }).rawConfig as RawConfig;
  } catch (err) {
    throw new ConfigError(configPath, [`wrangler cannot read it: ${(err as Error).message.split("\n")[0]}`]);
  }
  const dir = path.dirname(configPath);
  const problems: string[] = [];
  if (!raw.name) problems.push("`name` (the Worker's name) is not set");
  if (!raw.main || !existsSync(path.resolve(dir, raw.main))) problems.push(`\`main\` (${raw.main ?? "unset"}) does not name a file`);
  problems.push(...compatibilityDateProblems(raw.compatibility_date));

  const present = {
    d1_databases: (raw.d1_databases ?? []).map((d) => d.binding),
    r2_buckets: (raw.r2_buckets ?? []).map((b) => b.binding),
    durable_objects: (raw.durable_objects?.bindings ?? []).map((b) => b.name),
    queue_producers: (raw.queues?.producers ?? []).map((q) => q.binding),
  };
  for (const [kind, names] of Object.entries(BINDINGS) as [keyof typeof BINDINGS, readonly string[]][]) {
    for (const name of names) if (!present[kind].includes(name)) problems.push(`binding ${name} is missing (${kind.replace("_", " ")})`);
  }

  const d1 = raw.d1_databases?.find((d) => d.binding === "DB");
  const migrationsDir = path.resolve(dir, d1?.migrations_dir ?? "migrations");
  const migrations = existsSync(migrationsDir) ? readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).length : 0;
  if (d1 && !migrations) problems.push(`the D1 migrations directory ${path.relative(ROOT, migrationsDir)} has no .sql migrations`);
  const assetsDir = path.resolve(dir, raw.assets?.directory ?? ".build/assets");
  if (!raw.assets?.directory) problems.push("[assets] directory is not set (the console and /docs are served from it)");
  const bucket = raw.r2_buckets?.find((b) => b.binding === "MEDIA")?.bucket_name;
  if (problems.length) throw new ConfigError(configPath, problems);

  const queues = new Set<string>();
  for (const q of raw.queues?.producers ?? []) queues.add(q.queue);
  for (const q of raw.queues?.consumers ?? []) {
    queues.add(q.queue);
    if (q.dead_letter_queue) queues.add(q.dead_letter_queue);
  }
  return {
    raw,
    configPath,
    workerName: raw.name!,
    database: { name: d1!.database_name, migrationsDir, migrations },
    bucket: bucket!,
    queues: [...queues],
    assetsDir,
  };
}

function compatibilityDateProblems(date: string | undefined): string[] {
  if (!date) return ["`compatibility_date` is not set"];
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) return [`\`compatibility_date\` "${date}" is not a YYYY-MM-DD date`];
  // Cloudflare refuses a date it has not reached yet.
  if (Date.parse(`${date}T00:00:00Z`) > Date.now()) return [`\`compatibility_date\` ${date} is in the future`];
  return [];
}

/**
 * Writes what wrangler deploys: the committed config with the D1 id, the
 * production switch (edge-config.ts) and the secrets wrangler must find set
 * before it deploys, paths made relative to the generated file's folder.
 * Returns its path.
 */
export function writeDeployConfig(config: DeployConfig, databaseId: string): string {
  const from = path.dirname(config.configPath);
  const rel = (p: string) => path.relative(DEPLOY_DIR, path.resolve(from, p));
  const raw = structuredClone(config.raw);
  raw.main = rel(raw.main!);
  raw.assets = { ...raw.assets, directory: rel(raw.assets!.directory!) };
  raw.d1_databases = raw.d1_databases!.map((d) => ({ ...d, database_id: d.binding === "DB" ? databaseId : d.database_id, migrations_dir: rel(d.migrations_dir ?? "migrations") }));
  // Local-only S3 credentials (wrangler dev's presigning endpoint) have no place in production.
  raw.r2_buckets = raw.r2_buckets!.map(({ local_dev: _local, ...bucket }) => bucket);
  raw.vars = { ...raw.vars, POMBO_ENV: PRODUCTION };
  // Wrangler itself refuses to deploy while one of these is not set on the Worker.
  raw.secrets = { required: [...REQUIRED_SECRETS] };
  mkdirSync(DEPLOY_DIR, { recursive: true });
  const header = `// Generated by npm run deploy from ${path.relative(ROOT, config.configPath)}; edit that file, not this one.`;
  writeFileSync(DEPLOY_CONFIG, `${header}\n${JSON.stringify(raw, null, 2)}\n`);
  return DEPLOY_CONFIG;
}

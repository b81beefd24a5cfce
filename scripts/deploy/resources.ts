/**
 * The account's resources the Worker binds: found by name, created when
 * missing, so a second deploy creates nothing. Returns their ids (D1's goes
 * into the deploy config; queues and buckets are bound by name, their ids
 * are only reported).
 */
import type { DeployConfig } from "./config.ts";
import { wrangler } from "./wrangler.ts";

export type Resource = { kind: string; name: string; id: string | null; created: boolean };

type D1Listing = { uuid: string; name: string }[];

async function d1Database(name: string): Promise<Resource> {
  const find = async () => (JSON.parse((await wrangler(["d1", "list", "--json"])).stdout) as D1Listing).find((db) => db.name === name);
  let db = await find();
  const created = !db;
  if (!db) {
    await wrangler(["d1", "create", name]);
    db = await find();
    if (!db) throw new Error(`D1 database ${name} was created but is not listed`);
  }
  return { kind: "D1 database", name, id: db.uuid, created };
}

async function r2Bucket(name: string): Promise<Resource> {
  const exists = (await wrangler(["r2", "bucket", "info", name], { check: false })).code === 0;
  if (!exists) await wrangler(["r2", "bucket", "create", name]);
  return { kind: "R2 bucket", name, id: null, created: !exists };
}

async function queue(name: string): Promise<Resource> {
  const info = async () => wrangler(["queues", "info", name], { check: false });
  let run = await info();
  const created = run.code !== 0;
  if (created) {
    await wrangler(["queues", "create", name]);
    run = await info();
  }
  return { kind: "queue", name, id: /Queue ID:\s*(\S+)/.exec(run.stdout)?.[1] ?? null, created };
}

/** In order: D1 first (its id is needed to write the config), then the bucket and every queue, DLQs included. */
export async function ensureResources(config: DeployConfig, say: (line: string) => void): Promise<Resource[]> {
  const found: Resource[] = [];
  for (const next of [() => d1Database(config.database.name), () => r2Bucket(config.bucket), ...config.queues.map((name) => () => queue(name))]) {
    const r = await next();
    say(`${r.created ? "created" : "exists "} ${r.kind} ${r.name}${r.id ? ` (id ${r.id})` : ""}`);
    found.push(r);
  }
  return found;
}

/** Secrets already set on the Worker (none if it does not exist yet). */
export async function secretsOnWorker(configPath: string): Promise<string[]> {
  const run = await wrangler(["secret", "list", "--format", "json", "-c", configPath], { check: false });
  if (run.code !== 0) return [];
  try {
    return (JSON.parse(run.stdout) as { name: string }[]).map((s) => s.name);
  } catch {
    return [];
  }
}

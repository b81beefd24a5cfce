/**
 * `npm run deploy -- --dry-run`, run for real: wrangler bundles the Worker, the
 * assets are built, sizes are checked, and nothing leaves the machine (every
 * HTTP(S) request wrangler could make goes through a proxy that counts them,
 * and none arrive). Secrets are refused by name, never shown.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../harness/processes.ts";

const SECRETS = {
  POMBO_ADMIN_TOKEN: "Qm8v2Lr0xW4nT7kZpY1sB3dF6hJ9cE5a-admin",
  POMBO_FLEET_TOKEN: "fT3yR8uI1oP6aS9dG2hK5lZ7xC0vB4nM-fleet",
  POMBO_DATA_KEY: "dK7mN2bV5cX8zL1kJ4hG6fD9sA3pO0iU-data",
  POMBO_R2_ACCESS_KEY_ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
  POMBO_R2_SECRET_ACCESS_KEY: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
};
const ACCOUNT_ID = "0123456789abcdef0123456789abcdef";

let dir: string;
let proxy: net.Server;
let proxied = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "pombo-deploy-"));
  proxy = net.createServer((socket) => {
    proxied++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});
afterAll(() => {
  proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `npm run deploy -- <args>` as a user runs it, offline: no Cloudflare credentials, every request to the counting proxy. */
function deploy(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "node"), ["scripts/deploy.ts", ...args], {
    cwd: ROOT,
    // The system's PATH (its node is 20) without node_modules/.bin, as a user's shell may have it: wrangler must still run on the project's Node.
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, https_proxy: proxyUrl, http_proxy: proxyUrl, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (err += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

describe("npm run deploy -- --dry-run", () => {
  it("offline, with the secrets in a 0600 file: exit 0, names every step, reports the Worker's size, sets nothing, prints no value", async () => {
    const file = path.join(dir, "secrets.env");
    writeFileSync(file, `${Object.entries(SECRETS).map(([k, v]) => `${k}=${v}`).join("\n")}\nCLOUDFLARE_ACCOUNT_ID=${ACCOUNT_ID}\n`);
    chmodSync(file, 0o600);
    const run = await deploy(["--dry-run", "--secrets-file", file]);
    expect(run.code, run.err + run.out).toBe(0);
    const steps = [...run.out.matchAll(/^\[(\d)\/9\] (\w+):/gm)].map((m) => m[2]);
    expect(steps).toEqual(["config", "secrets", "assets", "bundle", "resources", "ids", "migrations", "secrets", "deploy"]);
    expect(run.out).toMatch(/Worker: [\d.]+ MiB, [\d.]+ MiB compressed \(limits: 3 MiB Free, 10 MiB Paid\)/);
    expect(run.out).toMatch(/\d+ files, [\d.]+ MiB; largest docs\/scalar\.js/);
    // The endpoint follows from the account id.
    for (const name of [...Object.keys(SECRETS), "POMBO_R2_S3_ENDPOINT"]) expect(run.out).toMatch(new RegExp(`ok\\s+${name}`));
    expect(run.out).toMatch(/skipped \(dry run\): would set POMBO_ADMIN_TOKEN, .*POMBO_R2_SECRET_ACCESS_KEY \(wrangler secret bulk, JSON on stdin\)/);
    expect(run.out).toContain("dry run passed");
    for (const value of [...Object.values(SECRETS), ACCOUNT_ID]) expect(run.out + run.err).not.toContain(value);
    expect(proxied).toBe(0);

    // What a deploy would ship: production mode, wrangler's own check of the secrets, no local R2 credentials.
    const generated = JSON.parse(readFileSync(path.join(ROOT, ".pombo", "deploy", "wrangler.jsonc"), "utf8").replace(/^\/\/.*\n/, ""));
    expect(generated.vars.POMBO_ENV).toBe("production");
    expect(generated.secrets.required).toContain("POMBO_DATA_KEY");
    expect(JSON.stringify(generated)).not.toContain("pombo-local-r2");
  });

  it("refuses a weak secret before building anything, naming the setting and the rule, never its value", async () => {
    const weak = "weak-data-key";
    const run = await deploy(["--dry-run"], { ...SECRETS, POMBO_DATA_KEY: weak });
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/REFUSED\s+POMBO_DATA_KEY has 13 characters; it must be a random string of at least 32 characters/);
    expect(run.err).toMatch(/^pombo deploy: refused: POMBO_DATA_KEY \(read from the environment\)$/m);
    expect(run.out).not.toContain("[3/9]");
    expect(run.out + run.err).not.toContain(weak);

    const example = await deploy(["--dry-run"], { ...SECRETS, POMBO_ADMIN_TOKEN: "pombo-local-admin-token-0123456789" });
    expect(example.code).toBe(1);
    expect(example.out).toMatch(/REFUSED\s+POMBO_ADMIN_TOKEN is the public example value from \.env\.example/);
  });

  it("a broken config fails clearly: each problem listed, nothing built", async () => {
    const source = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
    const broken = source
      .replace(/^main = .*$/m, `main = "${path.join(ROOT, "edge", "index.ts")}"`)
      .replace(/^compatibility_date = .*$/m, 'compatibility_date = "2026-13-45"')
      .replace(/\[\[r2_buckets\]\][\s\S]*?local_dev = .*\n/, "");
    const config = path.join(dir, "wrangler.toml");
    writeFileSync(config, broken);
    const run = await deploy(["--dry-run", "--config", config]);
    expect(run.code).toBe(1);
    expect(run.err).toContain("is not deployable:");
    expect(run.err).toContain('`compatibility_date` "2026-13-45" is not a YYYY-MM-DD date');
    expect(run.err).toContain("binding MEDIA is missing (r2 buckets)");
    expect(run.err).toMatch(/D1 migrations directory .* has no \.sql migrations/);
    expect(run.out).not.toContain("[2/9]");
  });
});

describe("npm run deploy, against a fake wrangler (no Cloudflare account here: test/harness/fake-wrangler.ts records the calls)", () => {
  type State = { d1: { uuid: string; name: string }[]; buckets: string[]; queues: string[]; secrets: string[]; calls: { args: string[]; stdin: string }[] };
  const stateFile = () => path.join(dir, "account.json");
  const account = (): State => JSON.parse(readFileSync(stateFile(), "utf8"));
  const fake = () => ({ POMBO_DEPLOY_WRANGLER: path.join(ROOT, "test", "harness", "fake-wrangler.ts"), FAKE_WRANGLER_STATE: stateFile() });
  const verbs = (s: State) => s.calls.map((call) => call.args.filter((arg) => !arg.startsWith("-") && !arg.includes("/")).slice(0, 2).join(" "));

  it("creates what is missing, migrates, sets the secrets on stdin only, deploys; run again it creates nothing and keeps the secrets", async () => {
    writeFileSync(stateFile(), JSON.stringify({ d1: [], buckets: [], queues: ["pombo-webhooks"], secrets: [], calls: [] }));
    const first = await deploy([], { ...SECRETS, CLOUDFLARE_ACCOUNT_ID: ACCOUNT_ID, ...fake() });
    expect(first.code, first.err + first.out).toBe(0);
    let s = account();
    expect(s.d1).toEqual([{ uuid: "d1-uuid-1", name: "pombo" }]);
    expect(s.buckets).toEqual(["pombo-media"]);
    expect(s.queues).toEqual(["pombo-webhooks", "pombo-webhooks-dlq"]);
    expect(s.secrets.sort()).toEqual([...Object.keys(SECRETS), "POMBO_R2_S3_ENDPOINT"].sort());
    // Migrations before the secrets and the new code; the bundle was checked before the account was touched.
    expect(verbs(s)).toEqual(["deploy", "d1 list", "d1 create", "d1 list", "r2 bucket", "r2 bucket", "queues info", "queues info", "queues create", "queues info", "d1 migrations", "secret bulk", "deploy"]);
    expect(first.out).toMatch(/created D1 database pombo \(id d1-uuid-1\)/);
    expect(first.out).toMatch(/exists  queue pombo-webhooks \(id queue-id-pombo-webhooks\)/);
    const bulk = s.calls.find((call) => call.args[1] === "bulk")!;
    expect(JSON.parse(bulk.stdin)).toMatchObject({ POMBO_DATA_KEY: SECRETS.POMBO_DATA_KEY, POMBO_R2_S3_ENDPOINT: `https://${ACCOUNT_ID}.r2.cloudflarestorage.com` });
    for (const call of s.calls) for (const value of Object.values(SECRETS)) expect(call.args.join(" ")).not.toContain(value);
    for (const value of Object.values(SECRETS)) expect(first.out + first.err).not.toContain(value);
    const generated = readFileSync(path.join(ROOT, ".pombo", "deploy", "wrangler.jsonc"), "utf8");
    expect(JSON.parse(generated.replace(/^\/\/.*\n/, "")).d1_databases[0].database_id).toBe("d1-uuid-1");
    expect(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")).not.toContain("d1-uuid-1");

    // An upgrade: no secrets given, everything exists.
    const again = await deploy([], fake());
    expect(again.code, again.err + again.out).toBe(0);
    s = account();
    expect(s.d1).toHaveLength(1);
    expect(again.out).not.toMatch(/^\s+created /m);
    expect(again.out).toContain("kept as set on the Worker: POMBO_ADMIN_TOKEN");
    expect(s.calls.filter((call) => call.args[1] === "bulk")).toHaveLength(1);
    expect(s.calls.at(-1)!.args[0]).toBe("deploy");
  });

  it("a first deploy without the secrets stops before touching the account, naming each one missing", async () => {
    writeFileSync(stateFile(), JSON.stringify({ d1: [], buckets: [], queues: [], secrets: [], calls: [] }));
    const run = await deploy([], { POMBO_ADMIN_TOKEN: SECRETS.POMBO_ADMIN_TOKEN, ...fake() });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/missing: POMBO_FLEET_TOKEN, POMBO_DATA_KEY, POMBO_R2_S3_ENDPOINT, POMBO_R2_ACCESS_KEY_ID, POMBO_R2_SECRET_ACCESS_KEY: not given/);
    expect(verbs(account())).toEqual(["secret list"]);
  });
});

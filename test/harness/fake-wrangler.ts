/**
 * A stand-in for wrangler's account commands, for testing `npm run deploy`
 * past its dry run: there is no Cloudflare account here. It keeps the
 * "account" (D1 databases, buckets, queues, the Worker's secret names) in the
 * JSON file FAKE_WRANGLER_STATE and records every call's arguments and stdin
 * there, so a test can check what was created, in which order, and that no
 * secret reached a command line. `deploy --dry-run` runs the real wrangler.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

type State = { d1: { uuid: string; name: string }[]; buckets: string[]; queues: string[]; secrets: string[]; calls: { args: string[]; stdin: string }[] };

const file = process.env.FAKE_WRANGLER_STATE!;
const state: State = JSON.parse(readFileSync(file, "utf8"));
const args = process.argv.slice(2);
const stdin = args[0] === "secret" && args[1] === "bulk" ? readFileSync(0, "utf8") : "";
state.calls.push({ args, stdin });
const save = () => writeFileSync(file, JSON.stringify(state));
const done = (out: string, code = 0) => {
  save();
  process.stdout.write(out);
  process.exit(code);
};

const [a, b, c] = args;
if (a === "deploy" && args.includes("--dry-run")) {
  save();
  const real = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "wrangler", "bin", "wrangler.js");
  const run = spawnSync(process.execPath, [real, ...args], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}
if (a === "d1" && b === "list") done(JSON.stringify(state.d1));
if (a === "d1" && b === "create") {
  state.d1.push({ uuid: `d1-uuid-${state.d1.length + 1}`, name: c! });
  done(`created ${c}\n`);
}
if (a === "d1" && b === "migrations") done("applied 20 migrations\n");
if (a === "r2" && b === "bucket" && c === "info") done("", state.buckets.includes(args[3]!) ? 0 : 1);
if (a === "r2" && b === "bucket" && c === "create") {
  state.buckets.push(args[3]!);
  done("created\n");
}
if (a === "queues" && b === "info") done(state.queues.includes(c!) ? `Queue Name: ${c}\nQueue ID: queue-id-${c}\n` : "", state.queues.includes(c!) ? 0 : 1);
if (a === "queues" && b === "create") {
  state.queues.push(c!);
  done("created\n");
}
if (a === "secret" && b === "list") done(JSON.stringify(state.secrets.map((name) => ({ name, type: "secret_text" }))));
if (a === "secret" && b === "bulk") {
  for (const name of Object.keys(JSON.parse(stdin) as object)) if (!state.secrets.includes(name)) state.secrets.push(name);
  done("Finished processing secrets\n");
}
if (a === "deploy") done("Uploaded pombo\nDeployed pombo triggers\n  https://pombo.example.workers.dev\n");
done(`fake wrangler: no such command ${args.join(" ")}\n`, 2);

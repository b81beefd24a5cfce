/**
 * Running wrangler for `npm run deploy`: the project's pinned wrangler, quiet
 * and, for what needs no account, offline (no metrics, no request.cf fetch,
 * no update check). Secrets go in on stdin, never as arguments.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./paths.ts";

/**
 * Run on this Node (the project's 24), whatever `node` is first on PATH: wrangler refuses Node 20.
 * POMBO_DEPLOY_WRANGLER swaps in another script (test/harness/fake-wrangler.ts: no account here).
 */
const WRANGLER = process.env.POMBO_DEPLOY_WRANGLER || path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Keeps wrangler from calling home for what needs no account, and from asking questions. */
export const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  // Non-interactive: wrangler answers its own confirmations (migrations apply) instead of waiting on a TTY.
  CI: "true",
};

export type WranglerRun = { code: number; stdout: string; stderr: string };

export class WranglerError extends Error {
  constructor(args: string[], run: WranglerRun) {
    const said = (run.stderr.trim() || run.stdout.trim()).split("\n").slice(-15).join("\n");
    super(`wrangler ${args[0]} ${args[1] ?? ""} failed (exit ${run.code}):\n${said}`);
    this.name = "WranglerError";
  }
}

/** Runs wrangler with `args`; `input` is written to its stdin (the only way a secret reaches it). */
export function wrangler(args: string[], { input, check = true }: { input?: string; check?: boolean } = {}): Promise<WranglerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const run = { code: code ?? 1, stdout, stderr };
      if (check && run.code !== 0) reject(new WranglerError(args, run));
      else resolve(run);
    });
    child.stdin.end(input ?? "");
  });
}

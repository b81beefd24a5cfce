/**
 * The harness's child processes (the edge, fleets, peer processes, one-off
 * commands): each runs in its own process group, so that a stop or a kill
 * reaches everything it started (wrangler's workerd, say), and a group still
 * alive when this process exits is killed with it. Everything listens on
 * 127.0.0.1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, type WriteStream } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Every process group started here, killed on exit if a test forgot to. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

function exitPromise(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Spawns a detached child (its own process group) with output appended to `logPath`. */
export function spawnLogged(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; logPath: string; cwd?: string }) {
  const log: WriteStream = createWriteStream(opts.logPath, { flags: "a" });
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  if (child.pid) liveGroups.add(child.pid);
  const exited = exitPromise(child).then((code) => {
    if (child.pid) liveGroups.delete(child.pid);
    // Let the pipes flush before closing the log.
    setTimeout(() => log.end(), 50);
    return code;
  });
  return { child, exited };
}

/** The last lines of a log file, for failure messages ("" before it exists). */
export function logTail(logPath: string, lines = 40): string {
  try {
    return readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Runs a command to its end and resolves with its standard output; rejects
 * (with both outputs) on a non-zero exit, or kills its group after `timeoutMs`.
 */
export async function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let both = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
      both += d;
    });
    child.stderr!.on("data", (d) => (both += d));
    const timer = setTimeout(() => {
      killGroup(child.pid!, "SIGKILL");
      reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1).join(" ")} timed out after ${timeoutMs} ms:\n${both}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${args.slice(0, 4).join(" ")} exited ${code}:\n${both}`));
    });
  });
}

/** A temp directory for one test file's or run's logs (kept so failures can be read). */
export function makeLogDir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `pombo-${name}-`));
}

/**
 * Runs one command and takes it down when the process that started us dies,
 * however it died.
 *
 *   node scripts/supervise.ts <grace-ms> -- <command> [args...]
 *
 * `npm start` starts each child (wrangler, the fleet) through this, detached,
 * with our stdin a pipe it holds. A SIGKILLed parent runs no handler, but the
 * kernel closes its end of that pipe, so stdin reaching EOF means the parent is
 * gone. We then SIGTERM our whole process group (the command and whatever it
 * started: wrangler's workerd and esbuild), and SIGKILL it after <grace-ms>.
 * Linux's PR_SET_PDEATHSIG would do this without a process, but Node cannot
 * reach it without a native addon, and it would not reach workerd anyway.
 *
 * Otherwise transparent: the command shares our stdout/stderr and process
 * group (so a signal the parent sends to the group reaches it), and we exit
 * with its exit code.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";

const [graceArg, dashes, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceArg);
if (!Number.isFinite(graceMs) || graceMs < 0 || dashes !== "--" || !command) {
  process.stderr.write("usage: node scripts/supervise.ts <grace-ms> -- <command> [args...]\n");
  process.exit(2);
}
// Killing "our group" must never reach the parent's group (a shell's job).
const pgrp = Number(readFileSync("/proc/self/stat", "utf8").split(") ").pop()!.split(" ")[2]);
if (pgrp !== process.pid) {
  process.stderr.write("supervise: must be started as a process group leader (spawn with detached: true)\n");
  process.exit(2);
}

let parentGone = false;

// A signal the parent sends to the group is for the command; we outlive it to
// report the command's exit code (and to escalate if the parent is gone).
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => {});

const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
child.once("error", (err) => {
  process.stderr.write(`[supervise] could not start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.once("exit", (code, signal) => {
  // Once the command is gone after its parent, stragglers in the group (workerd) go at once.
  if (parentGone) signalGroup("SIGKILL");
  process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
});

function signalGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    /* the group is gone */
  }
}

const onParentGone = () => {
  if (parentGone) return;
  parentGone = true;
  // stdout may be a pipe to the dead parent: say it on stderr and never fail on it.
  try {
    process.stderr.write(`[supervise] parent exited; stopping ${command} (SIGKILL in ${graceMs / 1000}s)\n`);
  } catch {
    /* nobody is reading */
  }
  signalGroup("SIGTERM");
  setTimeout(() => signalGroup("SIGKILL"), graceMs);
};
process.stdin.on("end", onParentGone);
process.stdin.on("close", onParentGone);
process.stdin.on("error", onParentGone);
process.stdin.resume();
// A dead reader must not crash us before the group is stopped.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

/**
 * The bench's handle on bench/raw-sender.ts, run as a child process (bare
 * Baileys sockets, the raw baseline of bench/send.ts), and the lines they
 * exchange (raw-sender.ts describes the protocol).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "../test/harness/processes.ts";

/** What the senders do: per number, its socket URL, creds and messages; at most `window` in flight per socket (0: no limit). */
export type RawPlan = { window: number; numbers: { url: string; creds: string; messages: { to: string; body: string }[] }[] };
export type RawDone = { type: "done"; started_at: number; finished_at: number; sent: number; acked: number; errors: number; first_error: string; closed: number };

/** A raw-sender.ts process: one JSON line out (`send`), the next one back (`next`). */
export class RawSender {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #lines: string[] = [];
  #wake: (() => void) | null = null;
  #stderr = "";
  constructor() {
    this.child = spawn(process.execPath, [path.join(ROOT, "bench/raw-sender.ts")], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((r) => this.child.once("exit", () => r()));
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      if (!l.startsWith('{"type"')) return; // anything else a library printed
      this.#lines.push(l);
      this.#wake?.();
    });
    this.child.stderr!.on("data", (d) => (this.#stderr = (this.#stderr + d).slice(-4_000)));
    this.child.once("exit", () => this.#wake?.());
  }
  get pid() {
    return this.child.pid!;
  }
  send(line: string) {
    this.child.stdin!.write(line + "\n");
  }
  async next<T>(timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#lines.length) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`raw sender exited (${this.child.exitCode ?? this.child.signalCode}) waiting for ${what}: ${this.#stderr.trim()}`);
      }
      if (Date.now() > deadline) throw new Error(`raw sender: no ${what} within ${timeoutMs} ms: ${this.#stderr.trim()}`);
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 200);
      });
      this.#wake = null;
    }
    return JSON.parse(this.#lines.shift()!) as T;
  }
  async stop() {
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(t);
  }
}

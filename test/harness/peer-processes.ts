/**
 * A stack's WhatsApp peers in child processes (`peer-shard.ts`), for the
 * benchmarks: the peers' own CPU cost (crabline records every frame, decrypts
 * every message) is then nobody's ceiling but their own, and a fleet's RSS
 * or CPU is the fleet's alone. Global peer i is the i-th number, with the
 * phone `startPeers` would give it. `inject` has a number's peer write to it
 * as a customer (bench:inbound): the peer encrypts every such message, so
 * that cost leaves the bench's process too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import type { InboundInjection } from "../peer/peer.ts";
import type { NumberPeer, PeerSet } from "./peers.ts";
import { ROOT } from "./processes.ts";

/** Phones of the numbers: PHONE_BASE + 1 + i (peerPhone's default). */
const PHONE_BASE = 5511900000000;

/** One message a peer decrypted: `at` is the peer's own stamp (ms since epoch), `text` null for other types. */
export type Arrival = { peer: number; waId: string; to: string; at: number; text: string | null };

/**
 * Every message the peers decrypted, as their processes report it. Arrival
 * times are the peers' own stamps (taken when they decrypted the message), so
 * how often the processes report does not blur them.
 */
export class ArrivalLog {
  readonly all: Arrival[] = [];
  #fresh: Arrival[] = [];
  push(a: Arrival): void {
    this.#fresh.push(a);
  }
  /** What arrived since the last call. */
  poll(): Arrival[] {
    const fresh = this.#fresh;
    this.#fresh = [];
    this.all.push(...fresh);
    return fresh;
  }
}

/** An injected message: its WhatsApp id, and when the peer had put it on the number's socket (ms since epoch, the peer's clock). */
export type Injected = { waId: string; at: number };

type Pending = { resolve: (i: Injected) => void; reject: (e: Error) => void };
type Shard = { child: ChildProcess; exited: Promise<void>; first: number; count: number; pending: Map<number, Pending> };

export class PeerProcesses implements PeerSet {
  readonly peers: NumberPeer[] = [];
  accessToken = "";
  readonly arrivals = new ArrivalLog();
  readonly #children: Shard[] = [];
  #nextId = 0;

  /** `n` peers over `processes` children (fewer if n is smaller). */
  static async start(n: number, processes = 1): Promise<PeerProcesses> {
    const shards = new PeerProcesses();
    const per = Math.ceil(n / processes);
    const starts: Promise<void>[] = [];
    for (let first = 0; first < n; first += per) starts.push(shards.#startShard(first, Math.min(per, n - first)));
    try {
      await Promise.all(starts);
    } catch (err) {
      await shards.close();
      throw err;
    }
    return shards;
  }

  async #startShard(first: number, count: number): Promise<void> {
    const child = spawn(process.execPath, [path.join(ROOT, "test/harness/peer-shard.ts"), String(count), String(PHONE_BASE + first)], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const pending = new Map<number, Pending>();
    const exited = new Promise<void>((r) =>
      child.once("exit", (code) => {
        for (const p of pending.values()) p.reject(new Error(`the peer shard exited (${code})`));
        pending.clear();
        r();
      }),
    );
    this.#children.push({ child, exited, first, count, pending });
    const manifest = await new Promise<{ accessToken: string; peers: NumberPeer[] }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("a peer shard did not start within 60 s")), 60_000);
      child.once("exit", (code) => reject(new Error(`a peer shard exited (${code})`)));
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith('{"type"')) return;
        const msg = JSON.parse(line) as { type: string } & Record<string, unknown>;
        if (msg.type === "manifest") {
          clearTimeout(timer);
          resolve(msg as unknown as { accessToken: string; peers: NumberPeer[] });
        } else if (msg.type === "arrival") {
          const a = msg as unknown as Arrival;
          this.arrivals.push({ ...a, peer: first + a.peer });
        } else if (msg.type === "injected") {
          const { id, waId, at, error } = msg as unknown as { id: number; waId?: string; at?: number; error?: string };
          const p = pending.get(id);
          pending.delete(id);
          if (error !== undefined) p?.reject(new Error(error));
          else p?.resolve({ waId: waId!, at: at! });
        }
      });
    });
    this.accessToken = manifest.accessToken;
    for (const [k, p] of manifest.peers.entries()) this.peers[first + k] = p;
  }

  /** Puts these phones on WhatsApp for every shard's lookups. */
  register(phones: string[]): void {
    for (const { child } of this.#children) child.stdin!.write(JSON.stringify({ register: phones }) + "\n");
  }

  /** Has peer `peer` (global index) put `message` on its number's socket, as a customer writing to the number. */
  inject(peer: number, message: InboundInjection): Promise<Injected> {
    const shard = this.#children.find((s) => peer >= s.first && peer < s.first + s.count);
    if (!shard) return Promise.reject(new Error(`no peer #${peer}: ${this.peers.length} peers`));
    const id = this.#nextId++;
    return new Promise<Injected>((resolve, reject) => {
      shard.pending.set(id, { resolve, reject });
      shard.child.stdin!.write(JSON.stringify({ inject: { id, peer: peer - shard.first, message } }) + "\n");
    });
  }

  /** The peer processes' pids (for their CPU time). */
  pids(): number[] {
    return this.#children.map(({ child }) => child.pid!);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.map(async ({ child, exited }) => {
        child.stdin!.end();
        const t = setTimeout(() => child.kill("SIGKILL"), 8_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

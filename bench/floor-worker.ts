/**
 * The Worker `bench:floor` runs: nothing of Pombo, only the platform
 * operations Pombo's paths are made of, each repeated `n` times in one
 * request, so that their cost in the local workerd can be read apart from
 * Pombo's own code. Exists only for that bench (bench/floor.ts writes its config).
 */
import { DurableObject } from "cloudflare:workers";

export class FloorObject extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)");
  }
  ping(x: string): string {
    return x;
  }
  write(x: string): string {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv VALUES (?, ?)", x, x);
    return x;
  }
  /** A socket of the bench's (as the fleet's link is): hibernatable, as the instance object's. */
  async fetch(request: Request): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  /** A frame in and its reply out; "w:" frames also write once first (a send's answer is stored in its step). */
  webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const text = String(message);
    if (text.startsWith("w:")) this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv VALUES (?, ?)", text, text);
    ws.send(text);
  }
  /** Three writes, each after an await: three commits, as code that awaits between writes makes. */
  async writeThrice(x: string): Promise<string> {
    for (let i = 0; i < 3; i++) {
      await scheduler.wait(0);
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv VALUES (?, ?)", `${x}.${i}`, x);
    }
    return x;
  }
}

type Env = { QUEUE: Queue<string>; DB: D1Database; OBJECT: DurableObjectNamespace<FloorObject>; LIMIT: { limit(o: { key: string }): Promise<{ success: boolean }> } };

const OPS: Record<string, (env: Env, i: number) => Promise<unknown>> = {
  nothing: async () => undefined,
  "d1 query": (env) => env.DB.prepare("SELECT 1 AS x").first(),
  "d1 batch of 9 writes": (env, i) =>
    env.DB.batch(Array.from({ length: 9 }, (_, j) => env.DB.prepare("INSERT OR REPLACE INTO m VALUES (?, ?, ?)").bind(`k${j}`, "x", i))),
  "do call": (env, i) => env.OBJECT.get(env.OBJECT.idFromName(`o${i % 20}`)).ping("x"),
  "do call + 1 write": (env, i) => env.OBJECT.get(env.OBJECT.idFromName(`o${i % 20}`)).write(`w${i}`),
  "do call + 3 commits": (env, i) => env.OBJECT.get(env.OBJECT.idFromName(`o${i % 20}`)).writeThrice(`t${i}`),
  // Every authenticated request spends its key's budget (edge/rate-limits.ts) with one such call.
  "rate limit call": (env, i) => env.LIMIT.limit({ key: `k${i % 20}` }),
  // A webhook delivery's own request, to a receiver the bench runs on loopback.
  "fetch out (POST 1 KB)": async (_env, i) => (await fetch(`${receiver}/${i}`, { method: "POST", body: KB })).text(),
  // A webhook delivery's trip through the queue when nothing else is queued: sent, then handed to the consumer in a batch of its own.
  // The pause lets the consumer take each message alone before the next is sent (a request may not wait on another's work).
  "queue send + its batch of 1": async (env, i) => {
    await env.QUEUE.send(`q${i}`);
    await scheduler.wait(25);
  },
};

const KB = "x".repeat(1024);
let receiver = "";
/** What the queue's consumer took, and in how many batches: `GET /queue` (the bench checks its batches were of one). */
let consumed = 0;
let batches = 0;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/queue") return Response.json({ consumed, batches });
    if (url.pathname === "/ws") return env.OBJECT.get(env.OBJECT.idFromName("ws")).fetch(request);
    if (url.pathname === "/setup") {
      receiver = url.searchParams.get("receiver") ?? "";
      await env.DB.exec("CREATE TABLE IF NOT EXISTS m (id TEXT PRIMARY KEY, s TEXT, n INTEGER)");
      return Response.json({ ops: Object.keys(OPS) });
    }
    const op = OPS[url.searchParams.get("op") ?? ""];
    if (!op) return new Response("unknown op", { status: 404 });
    const n = Number(url.searchParams.get("n") ?? 1);
    for (let i = 0; i < n; i++) await op(env, i);
    return new Response("ok");
  },
  async queue(batch: MessageBatch<string>): Promise<void> {
    consumed += batch.messages.length;
    batches++;
    batch.ackAll();
  },
} satisfies ExportedHandler<Env, string>;

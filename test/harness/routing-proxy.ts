/**
 * The routing proxy: one loopback port that the fleet's `POMBO_WA_URL`
 * points at: `ws://127.0.0.1:PORT/{instance_id}/ws/chat?access_token=T`.
 * On each WebSocket upgrade it looks the instance id up in a route table
 * (filled by the test after it creates instances), rewrites the path to the
 * peer's own path (the query is kept) and pipes raw TCP both ways. It counts
 * live connections per instance id and keeps the highest concurrent count
 * it has ever seen, which is how the tests check "never two live sockets
 * for one number".
 */
import http from "node:http";
import net from "node:net";

/** The peers' access token, unless a test picks its own. */
export const PEER_ACCESS_TOKEN = "pombo-e2e-peer-token";

/** Where a proxied connection goes. */
export interface PeerTarget {
  host: string;
  port: number;
  /** Path of the peer's Baileys WebSocket, e.g. `/ws/chat`. */
  path: string;
}

interface RouteStats {
  live: number;
  max: number;
  total: number;
}

export interface ProxyEvent {
  at: number;
  instanceId: string;
  kind: "open" | "close" | "reject";
  live: number;
}

export class RoutingProxy {
  readonly routes = new Map<string, PeerTarget>();
  readonly events: ProxyEvent[] = [];
  private readonly stats = new Map<string, RouteStats>();
  private readonly sockets = new Set<net.Socket>();
  /** Live piped connections, for `silence`. */
  private readonly pipes = new Set<{ instanceId: string; client: net.Socket; upstream: net.Socket }>();
  private server: http.Server | undefined;
  port = 0;
  /** How long an upgrade for an unknown instance id waits for its route. */
  routeWaitMs = 5_000;

  /** Starts listening on a free loopback port. */
  async start(port = 0): Promise<this> {
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("websocket upgrade required\n");
    });
    server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket as net.Socket, head));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  /** `POMBO_WA_URL` for the fleet: a literal `{instance_id}` it replaces per number. */
  waUrl(accessToken = PEER_ACCESS_TOKEN): string {
    return `ws://127.0.0.1:${this.port}/{instance_id}/ws/chat?access_token=${encodeURIComponent(accessToken)}`;
  }

  route(instanceId: string, target: PeerTarget): void {
    this.routes.set(instanceId, { host: target.host, port: target.port, path: target.path });
  }

  liveCount(instanceId: string): number {
    return this.stats.get(instanceId)?.live ?? 0;
  }

  maxConcurrent(instanceId: string): number {
    return this.stats.get(instanceId)?.max ?? 0;
  }

  connectionsTotal(instanceId: string): number {
    return this.stats.get(instanceId)?.total ?? 0;
  }

  /** Drops every piped connection of one instance (simulates a network cut). */
  cut(instanceId: string): void {
    for (const s of this.sockets) if ((s as net.Socket & { pomboId?: string }).pomboId === instanceId) s.destroy();
  }

  /**
   * The WhatsApp peer goes silent without closing: every live connection of
   * one instance stops carrying bytes either way, while both TCP connections
   * stay open. Connections made afterwards are routed as usual.
   */
  silence(instanceId: string): number {
    let silenced = 0;
    for (const pipe of this.pipes) {
      if (pipe.instanceId !== instanceId) continue;
      pipe.client.unpipe(pipe.upstream);
      pipe.upstream.unpipe(pipe.client);
      // Read and drop: nothing piles up, nothing gets through. A side that hangs up still ends the pair.
      pipe.client.resume();
      pipe.upstream.resume();
      pipe.client.once("end", () => pipe.client.destroy());
      pipe.upstream.once("end", () => pipe.upstream.destroy());
      this.pipes.delete(pipe);
      silenced++;
    }
    return silenced;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private statsFor(id: string): RouteStats {
    let s = this.stats.get(id);
    if (!s) {
      s = { live: 0, max: 0, total: 0 };
      this.stats.set(id, s);
    }
    return s;
  }

  private onUpgrade(req: http.IncomingMessage, client: net.Socket, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const match = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const instanceId = match ? decodeURIComponent(match[1]!) : "";
    client.on("error", () => {});
    const target = this.routes.get(instanceId);
    if (!target) {
      // The test may still be filling the route table (an instance is dialled as
      // soon as it exists): wait a little before refusing.
      const deadline = Date.now() + this.routeWaitMs;
      const retry = () => {
        if (client.destroyed) return;
        if (this.routes.has(instanceId)) return this.onUpgrade(req, client, head);
        if (Date.now() < deadline) return void setTimeout(retry, 50);
        this.events.push({ at: Date.now(), instanceId, kind: "reject", live: this.liveCount(instanceId) });
        // A plain HTTP error is not noticed by Baileys until its connect timeout
        // (it swallows ws' 'unexpected-response'); a reset is noticed at once.
        client.destroy();
      };
      retry();
      return;
    }
    const stats = this.statsFor(instanceId);
    stats.live++;
    stats.total++;
    stats.max = Math.max(stats.max, stats.live);
    (client as net.Socket & { pomboId?: string }).pomboId = instanceId;
    this.events.push({ at: Date.now(), instanceId, kind: "open", live: stats.live });

    const upstream = net.connect(target.port, target.host);
    (upstream as net.Socket & { pomboId?: string }).pomboId = instanceId;
    this.sockets.add(upstream);
    let closed = false;
    const pipe = { instanceId, client, upstream };
    const done = () => {
      if (closed) return;
      closed = true;
      this.pipes.delete(pipe);
      stats.live--;
      this.events.push({ at: Date.now(), instanceId, kind: "close", live: stats.live });
      client.destroy();
      upstream.destroy();
      this.sockets.delete(upstream);
    };
    client.once("close", done);
    upstream.once("close", done);
    upstream.on("error", () => {});
    upstream.once("connect", () => {
      // Re-emit the request head with the peer's path; keep query and headers.
      const lines = [`${req.method} ${target.path}${url.search} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        const value = name.toLowerCase() === "host" ? `${target.host}:${target.port}` : req.rawHeaders[i + 1]!;
        lines.push(`${name}: ${value}`);
      }
      upstream.write(lines.join("\r\n") + "\r\n\r\n");
      if (head.length) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      if (!closed) this.pipes.add(pipe);
    });
  }
}

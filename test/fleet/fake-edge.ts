/**
 * A stand-in for the edge's fleet endpoints, over real WebSockets: the
 * directory (`/fleet/connect`) and instance links
 * (`/fleet/instances/:id/connect`), plus the HTTP route a fleet delivers
 * spooled messages through when it holds no link
 * (`POST /fleet/instances/:id/received`). Tests steer it to misbehave the
 * ways the real edge can: stop answering pings, drop links (deploys), deny,
 * delete or revoke, fail to store.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { RpcPeer } from "../../shared/rpc.ts";
import { type Hello, type InboundMessage, type LeaseDenied, type MessageStatusEvent, ProtocolError, SpooledMessage, type StatusEvent } from "../../shared/protocol.ts";

export type FakeInstance = {
  id: string;
  connects: number;
  fleetIds: string[];
  live: WebSocket | null;
  peer: RpcPeer | null;
  entries: Map<string, string>;
  statuses: StatusEvent[];
  messageStatuses: MessageStatusEvent[];
  releases: number;
  /** False: pings go unanswered, as if the edge were stuck. */
  answerPings: boolean;
  /** When the edge last sent a pong: its lease runs ttl_ms from here. */
  lastPongAt: number;
  ttlMs: number;
  proxyUrl: string | null;
  /** Set: connects are denied with this, then closed 4001. */
  deny: LeaseDenied | null;
  /** Received messages stored, once each, and by which path each attempt came. */
  stored: Map<string, InboundMessage>;
  receivedVia: ("link" | "http")[];
  /** True: `message.received` fails (link and HTTP alike), as an edge whose database is down. */
  failReceived: boolean;
};

export type FakeEdge = {
  url: string;
  token: string;
  hellos: Hello[];
  directoryConnects: number;
  directory: WebSocket | null;
  instance(id: string): FakeInstance;
  assign(ids: string[]): void;
  revoke(ids: string[]): void;
  close(): Promise<void>;
};

export async function startFakeEdge(token = "fleet-token-for-tests"): Promise<FakeEdge> {
  const instances = new Map<string, FakeInstance>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    const match = /^\/fleet\/instances\/([^/]+)\/received$/.exec(req.url ?? "");
    if (req.method !== "POST" || !match) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = SpooledMessage.parse(JSON.parse(Buffer.concat(chunks).toString()));
      try {
        const result = receive(instance(decodeURIComponent(match[1]!)), body.message, "http");
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
      } catch (err) {
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "internal", message: String(err) } }));
      }
    });
  });

  const receive = (inst: FakeInstance, message: InboundMessage, via: "link" | "http") => {
    inst.receivedVia.push(via);
    if (inst.failReceived) throw new ProtocolError("internal", "D1_ERROR: storage unavailable");
    const duplicate = inst.stored.has(message.wa_message_id);
    if (!duplicate) inst.stored.set(message.wa_message_id, message);
    return { message_id: `msg_${message.wa_message_id}`, duplicate };
  };

  const instance = (id: string): FakeInstance => {
    let inst = instances.get(id);
    if (!inst) {
      inst = {
        id,
        connects: 0,
        fleetIds: [],
        live: null,
        peer: null,
        entries: new Map(),
        statuses: [],
        messageStatuses: [],
        releases: 0,
        answerPings: true,
        lastPongAt: 0,
        ttlMs: 15_000,
        proxyUrl: null,
        deny: null,
        stored: new Map(),
        receivedVia: [],
        failReceived: false,
      };
      instances.set(id, inst);
    }
    return inst;
  };

  const edge: FakeEdge = {
    url: "",
    token,
    hellos: [],
    directoryConnects: 0,
    directory: null,
    instance,
    assign: (ids) => directoryPeer()?.emit("assign", { instance_ids: ids }),
    revoke: (ids) => directoryPeer()?.emit("revoke", { instance_ids: ids }),
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  let dirPeer: RpcPeer | null = null;
  const directoryPeer = () => dirPeer;

  const onDirectory = (ws: WebSocket) => {
    edge.directoryConnects++;
    edge.directory = ws;
    const peer = new RpcPeer({
      send: (text) => ws.send(text),
      events: { hello: (hello) => void edge.hellos.push(hello) },
    });
    dirPeer = peer;
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "ping") return ws.send("pong");
      void peer.receive(text);
    });
    ws.on("close", () => {
      if (edge.directory === ws) edge.directory = null;
    });
  };

  const onInstance = (ws: WebSocket, inst: FakeInstance, fleetId: string) => {
    inst.connects++;
    inst.fleetIds.push(fleetId);
    if (inst.deny) {
      ws.send(JSON.stringify({ v: 1, t: "evt", event: "lease.denied", data: inst.deny }));
      ws.close(4001, "lease held");
      return;
    }
    inst.live = ws;
    const peer = new RpcPeer({
      send: (text) => ws.send(text),
      methods: {
        "session.get": ({ keys }) => ({ values: Object.fromEntries(keys.map((k) => [k, inst.entries.get(k) ?? null])) }),
        "session.set": ({ entries }) => {
          for (const [k, v] of Object.entries(entries)) v === null ? inst.entries.delete(k) : inst.entries.set(k, v);
          return { written: Object.keys(entries).length };
        },
        "session.clear": () => {
          const cleared = inst.entries.size;
          inst.entries.clear();
          return { cleared };
        },
        "message.received": (message) => receive(inst, message, "link"),
      },
      events: {
        status: (status) => void inst.statuses.push(status),
        release: () => void inst.releases++,
        "message.status": (event) => void inst.messageStatuses.push(event),
      },
    });
    inst.peer = peer;
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "ping") {
        if (!inst.answerPings) return;
        inst.lastPongAt = Date.now();
        return ws.send("pong");
      }
      void peer.receive(text);
    });
    ws.on("close", () => {
      if (inst.live === ws) {
        inst.live = null;
        inst.peer = null;
      }
    });
    inst.lastPongAt = Date.now();
    peer.emit("lease.granted", { instance_id: inst.id, ttl_ms: inst.ttlMs, config: { name: inst.id, proxy_url: inst.proxyUrl } });
  };

  server.on("upgrade", (req: IncomingMessage, socket, head) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://edge");
    const match = /^\/fleet\/instances\/([^/]+)\/connect$/.exec(url.pathname);
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (url.pathname === "/fleet/connect") return onDirectory(ws);
      if (match) return onInstance(ws, instance(decodeURIComponent(match[1]!)), url.searchParams.get("fleet_id") ?? "");
      ws.close(1008, "unknown path");
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  edge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return edge;
}

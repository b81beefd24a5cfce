/** Calls the Worker the way a client would, through its fetch handler. */
import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterAll, afterEach, expect } from "vitest";
import type { Env } from "../../edge/env.ts";
import { directoryOf, instanceOf } from "../../edge/objects/stubs.ts";

export const ADMIN = "test-admin-token";
export const FLEET = "test-fleet-token";

type Call = { method?: string; token?: string; body?: unknown; raw?: string; headers?: Record<string, string> };

export async function call(path: string, { method = "GET", token, body, raw, headers = {} }: Call = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  const h = init.headers as Record<string, string>;
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined || raw !== undefined) {
    h["Content-Type"] ??= "application/json";
    init.body = raw ?? JSON.stringify(body);
  }
  const res = await exports.default.fetch(new Request(`http://pombo.test${path}`, init));
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** POSTs `raw` as it is, with that Content-Type. */
export const postRaw = (path: string, token: string, raw: string, contentType: string) =>
  call(path, { method: "POST", token, raw, headers: { "Content-Type": contentType } });

export async function newProject(name = "acme") {
  const { status, json } = await call("/admin/projects", { method: "POST", token: ADMIN, body: { name } });
  if (status !== 201) throw new Error(`project: ${status} ${JSON.stringify(json)}`);
  return json as { id: string; name: string; api_key: string };
}

export async function newInstance(key: string, name = "n1") {
  const { status, json } = await call("/instances", { method: "POST", token: key, body: { name } });
  if (status !== 201) throw new Error(`instance: ${status} ${JSON.stringify(json)}`);
  return json as { id: string; state: string };
}

/** A project with pacing off and one number (not yet on a fleet). */
export async function projectWithNumber() {
  const { api_key: key, id: projectId } = await newProject();
  await noPacing(key);
  const instance = await newInstance(key);
  return { key, projectId, id: instance.id };
}

/** A fleet-side WebSocket, as a fleet process would open it, with a message queue. */
export type FleetSocket = Awaited<ReturnType<typeof fleetSocket>>;

const opened = new Set<WebSocket>();

class Failure {
  code: string;
  message: string;
  constructor(code: string, message: string) {
    this.code = code;
    this.message = message;
  }
}
/** A fleet answer that is an error with this code (and message). */
export const fail = (code: string, message = code) => new Failure(code, message);

/**
 * For files whose tests use the directory (one object, storage per file):
 * closes the fleet sockets and forgets every assignment, so the next test
 * starts with no fleets and no numbers.
 */
export async function resetDirectory() {
  closeFleetSockets();
  await new Promise((r) => setTimeout(r, 50));
  await runInDurableObject(directoryOf(env), (_o, state) => {
    state.storage.sql.exec("DELETE FROM assignment");
  });
}

/** A creds.json shaped as Baileys writes it (the values are not a real session). */
export function sessionCreds() {
  const buf = { type: "Buffer", data: "AAAA" };
  const pair = { private: buf, public: buf };
  return {
    noiseKey: pair,
    signedIdentityKey: pair,
    signedPreKey: { keyPair: pair, signature: buf, keyId: 1 },
    registrationId: 7,
    advSecretKey: "c2VjcmV0",
    me: { id: "5511988887777:1@s.whatsapp.net" },
  };
}

/** Closes every fleet socket a test opened, so the next test starts with no fleets. */
export function closeFleetSockets() {
  for (const ws of opened) {
    try {
      ws.close(1000, "test over");
    } catch {
      // already closed
    }
  }
  opened.clear();
}

export async function fleetSocket(path: string) {
  const res = await exports.default.fetch(
    new Request(`http://pombo.test${path}`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${FLEET}` } }),
  );
  const ws = res.webSocket;
  if (!ws) throw new Error(`no websocket: ${res.status} ${await res.text()}`);
  ws.accept();
  opened.add(ws);
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let closed: { code: number; reason: string } | undefined;
  const closedPromise = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (e: CloseEvent) => {
      closed = { code: e.code, reason: e.reason };
      wake?.();
      resolve(closed);
    }),
  );
  ws.addEventListener("message", (e: MessageEvent) => {
    queue.push(String(e.data));
    wake?.();
  });
  let nextId = 1;
  const socket = {
    ws,
    closed: closedPromise,
    get isClosed() {
      return closed !== undefined;
    },
    /** The next frame, parsed when it is JSON. */
    async next(timeoutMs = 2_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (closed) throw new Error(`closed ${closed.code} ${closed.reason}`);
        if (Date.now() > deadline) throw new Error("no frame in time");
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      const text = queue.shift()!;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    },
    send(frame: object | string) {
      ws.send(typeof frame === "string" ? frame : JSON.stringify({ v: 1, ...frame }));
    },
    event(event: string, data: unknown) {
      socket.send({ t: "evt", event, data });
    },
    /** Sends a request and returns its response frame. */
    async request(method: string, params: unknown) {
      const id = nextId++;
      socket.send({ t: "req", id, method, params });
      for (;;) {
        const frame = await socket.next();
        if (frame?.t === "res" && frame.id === id) return frame;
      }
    },
    /** Answers every request from the edge with `answer(method, params)` (a promise: once it settles), in the background. */
    serve(answer: (method: string, params: any) => unknown) {
      const reply = async (frame: any) => {
        const result = await answer(frame.method, frame.params);
        // `fail(code)` makes the fleet answer with that error code, as the real one does.
        const body = result instanceof Failure ? { ok: false, error: { code: result.code, message: result.message } } : { ok: true, result };
        if (!closed) ws.send(JSON.stringify({ v: 1, t: "res", id: frame.id, ...body }));
      };
      ws.addEventListener("message", (e: MessageEvent) => {
        const frame = JSON.parse(String(e.data));
        if (frame.t !== "req") return;
        const i = queue.indexOf(String(e.data));
        if (i >= 0) queue.splice(i, 1);
        void reply(frame);
      });
    },
  };
  return socket;
}

export const connectInstance = (instanceId: string, fleetId: string) =>
  fleetSocket(`/fleet/instances/${instanceId}/connect?fleet_id=${fleetId}&v=1`);

/** Opens a directory link and says hello; returns the socket and its first `assign`. */
export async function joinDirectory(fleetId: string, capacity = 0) {
  const socket = await fleetSocket("/fleet/connect");
  socket.event("hello", { fleet_id: fleetId, host: "test", pid: 1, capacity });
  const first = await socket.next();
  return { socket, first };
}

export type SendFrame = { message_id: string; wa_message_id: string; chat_jid: string; content: any; quoted: any; status: any; typing_ms: number };

/**
 * A fleet process running `instanceId` with the number connected, speaking the
 * real edge <-> fleet protocol: it records every `message.send` and answers
 * it, and answers phone lookups from `onWhatsApp` (phone digits -> JID) and
 * any other method from `methods` (return `fail(code)` for an error answer).
 * (WhatsApp itself is exercised in the e2e suite; this tests the edge's side.)
 */
export async function connectedFleet(
  instanceId: string,
  opts: {
    fleetId?: string;
    onWhatsApp?: Record<string, string>;
    jid?: string;
    answer?: (frame: SendFrame) => unknown;
    methods?: Record<string, (params: any) => unknown>;
  } = {},
) {
  const socket = await connectInstance(instanceId, opts.fleetId ?? `fleet-${instanceId.slice(0, 8)}`);
  const grant = await socket.next();
  if (grant.event !== "lease.granted") throw new Error(`no lease: ${JSON.stringify(grant)}`);
  const sends: SendFrame[] = [];
  const lookups: string[][] = [];
  socket.serve((method, params) => {
    if (method === "message.send") {
      sends.push(params);
      const custom = opts.answer?.(params);
      if (custom !== undefined) return custom;
      return { wa_message_id: params.wa_message_id, timestamp: Math.floor(Date.now() / 1000), message_secret: null, poll_message: null };
    }
    if (method === "contacts.resolve") {
      lookups.push(params.phones);
      return {
        results: params.phones.map((phone: string) => {
          const jid = opts.onWhatsApp?.[phone] ?? null;
          return { phone, exists: jid !== null, jid };
        }),
      };
    }
    const own = opts.methods?.[method];
    return own ? own(params) : {};
  });
  socket.event("status", { state: "connected", jid: opts.jid ?? "5511900000001:1@s.whatsapp.net" });
  // A round trip, so the status is applied before the test goes on.
  await waitFor(async () => (await instanceOf(env, instanceId).status())?.state === "connected");
  return { socket, sends, lookups };
}

/** `db` that tells `onTrip` of each round trip: a batch (with its count of statements), or a statement run alone (1). */
export function countingD1(db: D1Database, onTrip: (statements: number) => void): D1Database {
  const run = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => run(value.apply(target, args));
        if (["all", "raw", "run", "first"].includes(String(prop))) onTrip(1);
        return value.bind(target);
      },
    });
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "prepare") return (query: string) => run(value.call(target, query));
      if (prop === "batch") return (statements: D1PreparedStatement[]) => (onTrip(statements.length), value.call(target, statements));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `env` with a D1 that counts its round trips (each batch, and each statement run alone), and counts the legacy sticky-number objects reached. */
export function countingEnv() {
  const trips = { count: 0 };
  const DB = countingD1(env.DB, () => trips.count++);
  // Durable Object stubs of the sticky number's legacy objects handed out (objects/affinity.ts).
  const affinity = { count: 0 };
  const AFFINITY = new Proxy(env.AFFINITY, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "get") return (...args: unknown[]) => (affinity.count++, value.apply(target, args));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { env: { ...env, DB, AFFINITY } as unknown as Env, trips, affinity };
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 3_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function messageOf(key: string, id: string) {
  return (await call(`/messages/${id}`, { token: key })).json;
}

/** Turns pacing off for a project, so sends leave back to back. */
export async function noPacing(key: string) {
  const res = await call("/settings", { method: "PATCH", token: key, body: { pacing: { enabled: false } } });
  if (res.status !== 200) throw new Error(`settings: ${res.status} ${JSON.stringify(res.json)}`);
}

/** A received message as the fleet reports it (`message.received`), a text from `chat` unless overridden. */
export { inboundMessage } from "../shared/inbound-message.ts";

/** The fleet hands the edge one received message and waits for its answer, as the real one does. */
export async function deliver(socket: FleetSocket, message: object) {
  const res = await socket.request("message.received", message);
  if (!res.ok) throw new Error(`message.received: ${JSON.stringify(res.error)}`);
  return res.result as { message_id: string; duplicate: boolean };
}

/**
 * The project's events so far, read from `GET /events` (replayed from the
 * hub's log), once `until` holds for them.
 */
export async function eventsUntil(key: string, until: (events: any[]) => boolean, timeoutMs = 3_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await eventLog(key);
    if (until(events)) return events;
    if (Date.now() > deadline) throw new Error(`timed out waiting for events; have ${JSON.stringify(events.map((e) => e.type))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every event in the project's log: a short SSE read from the start, closed once the replay is in. */
async function eventLog(key: string): Promise<any[]> {
  const controller = new AbortController();
  const res = await exports.default.fetch(
    new Request("http://pombo.test/events?last_event_id=0", {
      headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
      signal: controller.signal,
    }),
  );
  if (res.status !== 200 || !res.body) throw new Error(`GET /events: ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  // The replay comes at once; a short quiet spell means it is all in.
  for (;;) {
    const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), 150))]);
    if (chunk === null || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  void reader.cancel().catch(() => {});
  controller.abort();
  return text
    .split("\n\n")
    .map((frame) => frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n"))
    .filter((data) => data.startsWith("{"))
    .map((data) => JSON.parse(data));
}

/**
 * For a file whose tests open fleet sockets: closes each test's, and lets the
 * drops they cause finish after the last test.
 */
export function useFleetSockets() {
  afterEach(() => closeFleetSockets());
  afterAll(() => settleFleets());
}

/**
 * For a file's last test: closed fleet sockets make their numbers announce
 * the drop a moment later; let that finish before the runner tears down.
 */
export async function settleFleets(ms = 300) {
  closeFleetSockets();
  await new Promise((r) => setTimeout(r, ms));
}

/** Every page of a cursor list (`{ data, next_cursor }`), `limit` at a time: what was seen, in order, and how many pages. */
export async function walk(key: string, path: string, limit: number) {
  const seen: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const res = await call(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: key });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.data.length).toBeLessThanOrEqual(limit);
    seen.push(...res.json.data);
    cursor = res.json.next_cursor;
    pages++;
  } while (cursor && pages < 50);
  return { seen, pages };
}

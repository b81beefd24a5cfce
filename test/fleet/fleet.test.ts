import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { FleetConfig } from "../../fleet/config.ts";
import { Fleet } from "../../fleet/fleet.ts";
import { type MetricsServer, serveMetrics } from "../../fleet/metrics.ts";
import { sealValue } from "../../fleet/session-store.ts";
import { initAuthCreds } from "@whiskeysockets/baileys";
import { type FakeEdge, startFakeEdge } from "./fake-edge.ts";
import { fakeSockets } from "./fake-socket.ts";
import { spoolDir } from "./inbound-harness.ts";
import { freePort } from "../harness/processes.ts";
import { until } from "./memory-edge.ts";
import { parseScrape, sampleOf } from "../shared/prometheus-text.ts";

const silent = pino({ level: "silent" });
const SESSION_KEY = "fleet test session key";

let edge: FakeEdge;
let fleets: Fleet[] = [];
let servers: MetricsServer[] = [];

beforeEach(async () => {
  edge = await startFakeEdge();
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await Promise.all(fleets.map((f) => f.drain()));
  fleets = [];
  await edge.close();
});

function config(overrides: Partial<FleetConfig> = {}): FleetConfig {
  return {
    edgeUrl: edge.url,
    fleetToken: edge.token,
    sessionKey: SESSION_KEY,
    waUrl: null,
    waVersion: [2, 3000, 1],
    fleetId: "fleet-test-1",
    capacity: 50,
    logLevel: "silent",
    logFormat: "json",
    waInitQueries: true,
    waSilenceMs: 45_000,
    qrLimit: 30,
    allowPrivateNetworks: false,
    host: "test-host",
    pid: 4242,
    dataDir: spoolDir(),
    spoolMaxRows: 100_000,
    spoolMinFreeMb: 0,
    metricsPort: null,
    metricsHost: "127.0.0.1",
    ...overrides,
  };
}

/** Puts a paired session for `id` on the fake edge, sealed as the fleet would. */
function seedSession(id: string): void {
  const creds = initAuthCreds();
  creds.me = { id: "5511999990001:1@s.whatsapp.net" };
  creds.registered = true;
  edge.instance(id).entries.set("creds", sealValue(new SessionCipher(SESSION_KEY), id, "creds", creds));
}

function startFleet(overrides: Partial<FleetConfig> = {}) {
  const { sockets, makeSocket } = fakeSockets();
  const fleet = new Fleet({ config: config(overrides), logger: silent, makeSocket });
  fleets.push(fleet);
  fleet.start();
  return { fleet, sockets };
}

/** A started fleet that said hello and was assigned `ids` (sessions stored at the edge), once it made a socket for each. */
async function fleetRunning(...ids: string[]) {
  for (const id of ids) seedSession(id);
  const started = startFleet();
  await until(() => edge.hellos.length === 1, 3_000, "hello");
  edge.assign(ids);
  await until(() => started.sockets.length === ids.length, 3_000, "sockets");
  return started;
}

describe("fleet process", () => {
  it("says hello, runs what the directory assigns (once), and stops what it revokes without logging out", async () => {
    seedSession("inst_1");
    seedSession("inst_2");
    const { fleet, sockets } = startFleet();
    await until(() => edge.hellos.length === 1, 3_000, "hello");
    expect(edge.hellos[0]).toEqual({ fleet_id: "fleet-test-1", host: "test-host", pid: 4242, capacity: 50 });

    edge.assign(["inst_1", "inst_2"]);
    await until(() => sockets.length === 2, 3_000, "two sockets");
    edge.assign(["inst_1", "inst_2"]); // the directory repeats itself after reconnects
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sockets).toHaveLength(2);
    expect(edge.instance("inst_1").connects).toBe(1);
    expect(fleet.instanceIds.sort()).toEqual(["inst_1", "inst_2"]);

    const revoked = "inst_1";
    edge.revoke([revoked]);
    await until(() => edge.instance(revoked).releases === 1, 3_000, "release");
    await until(() => edge.instance(revoked).live === null, 3_000, "link closed");
    expect(sockets.every((s) => !s.loggedOut)).toBe(true);
    expect(sockets.filter((s) => s.ended)).toHaveLength(1);
    expect(edge.instance(revoked).entries.has("creds")).toBe(true); // the session stays for the next holder
    expect(fleet.instanceIds).toHaveLength(1);
  });

  it("keeps its numbers running while the directory link is down, and says hello again", async () => {
    const { sockets } = await fleetRunning("inst_3");
    edge.directory!.terminate(); // edge deploy
    await until(() => edge.hellos.length === 2, 5_000, "second hello");
    expect(edge.directoryConnects).toBe(2);
    expect(sockets[0]!.ended).toBe(false);
    expect(edge.instance("inst_3").releases).toBe(0);
    edge.assign(["inst_3"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sockets).toHaveLength(1);
  });

  it("lets go of numbers that moved elsewhere while its directory link was down", async () => {
    const { fleet, sockets } = await fleetRunning("inst_6", "inst_7");
    edge.directory!.terminate();
    await until(() => edge.hellos.length === 2, 5_000, "second hello");
    // The first assign after hello is the directory's whole list for us: inst_7 is no longer on it.
    edge.assign(["inst_6"]);
    await until(() => edge.instance("inst_7").releases === 1, 3_000, "inst_7 released");
    expect(fleet.instanceIds).toEqual(["inst_6"]);
    expect(sockets.filter((s) => s.ended)).toHaveLength(1);
    expect(sockets.every((s) => !s.loggedOut)).toBe(true);
  });

  it("a number revoked before the edge took its message: the message waits in the spool and reaches the edge over HTTP, once", async () => {
    const { fleet, sockets } = await fleetRunning("inst_r");
    sockets[0]!.open();
    const inst = edge.instance("inst_r");
    inst.failReceived = true;
    const customer = "5511988887777@s.whatsapp.net";
    sockets[0]!.ev.emit("messages.upsert", {
      type: "notify",
      messages: [{ key: { remoteJid: customer, id: "3EB0REVOKED", fromMe: false }, messageTimestamp: 1_750_000_000, message: { conversation: "oi" } }],
    });
    await until(() => inst.receivedVia.includes("link"), 3_000, "a first attempt on the link");

    // The lease moves on (a rebalance): the number stops here, and the edge comes back only after that.
    edge.revoke(["inst_r"]);
    await until(() => inst.releases === 1, 5_000, "released");
    expect(fleet.instanceIds).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // longer than any stop waits
    inst.failReceived = false;
    await until(() => inst.stored.has("3EB0REVOKED"), 10_000, "stored over HTTP");
    expect(inst.receivedVia.at(-1)).toBe("http");
    expect(inst.stored.get("3EB0REVOKED")).toMatchObject({ chat_jid: customer, body: "oi" });
    const attempts = inst.receivedVia.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inst.receivedVia).toHaveLength(attempts); // stored: never sent again
    expect(inst.stored.size).toBe(1);
  });

  it("drains: every socket ends without logout, every lease is released, the directory link closes", async () => {
    const { fleet, sockets } = await fleetRunning("inst_4", "inst_5");
    const started = Date.now();
    await fleet.drain();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(sockets.every((s) => s.ended && !s.loggedOut)).toBe(true);
    expect(edge.instance("inst_4").releases).toBe(1);
    expect(edge.instance("inst_5").releases).toBe(1);
    await until(() => edge.directory === null, 3_000, "directory closed");
  });

  it("forgets an instance the edge deleted (4004) and does not reconnect it", async () => {
    const { fleet, sockets } = await fleetRunning("inst_6");
    edge.instance("inst_6").live!.close(4004, "deleted");
    await until(() => fleet.instanceIds.length === 0, 3_000, "forgotten");
    expect(sockets[0]!.ended).toBe(true);
    expect(sockets[0]!.loggedOut).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(edge.instance("inst_6").connects).toBe(1);
  });
});

describe("the metrics port (metrics.ts)", () => {
  /** The fleet's /metrics and /health on a free loopback port. */
  async function served(fleet: Fleet) {
    const server = await serveMetrics(fleet.metrics, { host: "127.0.0.1", port: 0, logger: silent });
    servers.push(server);
    const scrape = async () => {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      return parseScrape(await res.text());
    };
    const health = async () => {
      const res = await fetch(`${server.url}/health`);
      return { status: res.status, body: await res.json() };
    };
    return { scrape, health };
  }

  it("serves Prometheus text: open sockets and sends in flight move, a reconnect counts under its close code, process memory and CPU are there", async () => {
    const { fleet, sockets } = await fleetRunning("inst_m");
    const { scrape } = await served(fleet);
    let metrics = await scrape();
    expect(sampleOf(metrics, "pombo_fleet_numbers")).toBe(1);
    expect(sampleOf(metrics, "pombo_fleet_open_sockets")).toBe(0);
    expect(sampleOf(metrics, "pombo_fleet_reconnects_total", { close_code: "428" })).toBeUndefined();
    expect(sampleOf(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(metrics.get("process_cpu_seconds_total")?.type).toBe("COUNTER");

    const sock = sockets[0]!;
    sock.open();
    await until(() => fleet.metrics.facts.openSockets() === 1, 3_000, "connected");
    expect(sampleOf(await scrape(), "pombo_fleet_open_sockets")).toBe(1);

    // WhatsApp holds its ack: the send stays in flight until the socket drops.
    sock.ack = "hold";
    const sent = edge.instance("inst_m").peer!.call("message.send", {
      message_id: "msg_1",
      wa_message_id: "3EB0METRICS1",
      chat_jid: "5511988887777@s.whatsapp.net",
      content: { type: "text", text: "oi" },
    });
    await until(() => sock.sent.length === 1, 3_000, "the send on the socket");
    expect(sampleOf(await scrape(), "pombo_fleet_sends_in_flight")).toBe(1);

    sock.close(428);
    await expect(sent).rejects.toMatchObject({ code: "not_connected" });
    metrics = await scrape();
    expect(sampleOf(metrics, "pombo_fleet_sends_in_flight")).toBe(0);
    expect(sampleOf(metrics, "pombo_fleet_open_sockets")).toBe(0);
    expect(metrics.get("pombo_fleet_reconnects_total")?.type).toBe("COUNTER");
    expect(sampleOf(metrics, "pombo_fleet_reconnects_total", { close_code: "428" })).toBe(1);
  });

  it("counts the received messages waiting in the spool while the edge cannot store them", async () => {
    const { fleet, sockets } = await fleetRunning("inst_sp");
    const { scrape } = await served(fleet);
    sockets[0]!.open();
    edge.instance("inst_sp").failReceived = true;
    sockets[0]!.ev.emit("messages.upsert", {
      type: "notify",
      messages: [{ key: { remoteJid: "5511988887777@s.whatsapp.net", id: "3EB0SPOOLED", fromMe: false }, messageTimestamp: 1_750_000_000, message: { conversation: "oi" } }],
    });
    await until(() => edge.instance("inst_sp").receivedVia.length > 0, 3_000, "a first attempt");
    expect(sampleOf(await scrape(), "pombo_fleet_inbound_spool_rows")).toBe(1);
    edge.instance("inst_sp").failReceived = false;
    await until(() => edge.instance("inst_sp").stored.has("3EB0SPOOLED"), 10_000, "stored");
    await until(() => fleet.metrics.facts.spoolRows() === 0, 3_000, "spool empty");
    expect(sampleOf(await scrape(), "pombo_fleet_inbound_spool_rows")).toBe(0);
  });

  it("/health: 200 while linked to the edge, 503 while not", async () => {
    const { fleet } = await fleetRunning("inst_h");
    const linked = await (await served(fleet)).health();
    expect(linked).toEqual({ status: 200, body: { ok: true, linked: true, numbers: 1, open_sockets: 0 } });

    // Nothing listens on port 9: this one never links.
    const { fleet: alone } = startFleet({ edgeUrl: "http://127.0.0.1:9", fleetId: "fleet-test-alone" });
    const unlinked = await (await served(alone)).health();
    expect(unlinked).toEqual({ status: 503, body: { ok: false, linked: false, numbers: 0, open_sockets: 0 } });
  });
});

describe("fleet/main.ts", () => {
  it("exits 0 within a few seconds of SIGTERM, releasing its lease, and logs no secrets", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const child = spawn(`${root}/node_modules/.bin/node`, ["fleet/main.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        POMBO_EDGE_URL: edge.url,
        POMBO_FLEET_TOKEN: edge.token,
        POMBO_SESSION_KEY: SESSION_KEY,
        POMBO_FLEET_ID: "fleet-main-test",
        POMBO_FLEET_DATA_DIR: spoolDir(),
        // Nothing listens here: the number's socket keeps failing and retrying, which is fine for a drain.
        POMBO_WA_URL: "ws://127.0.0.1:9/ws/{instance_id}",
        POMBO_LOG_LEVEL: "debug",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await until(() => edge.hellos.length === 1, 10_000, "hello from the child");
      expect(edge.hellos[0]!.fleet_id).toBe("fleet-main-test");
      edge.assign(["inst_main"]);
      await until(() => edge.instance("inst_main").statuses.length > 0, 10_000, "a status from the child");
      const signalledAt = Date.now();
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(5_000);
      expect(edge.instance("inst_main").releases).toBe(1);
      expect(output).toContain('"msg":"drained"');
      expect(output).not.toContain(edge.token);
      expect(output).not.toContain(SESSION_KEY);
      if (process.env.SHOW_CHILD_LOG) console.log(output);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("serves /metrics and /health on POMBO_METRICS_PORT, on loopback", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const port = await freePort();
    const child = spawn(`${root}/node_modules/.bin/node`, ["fleet/main.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        POMBO_EDGE_URL: edge.url,
        POMBO_FLEET_TOKEN: edge.token,
        POMBO_SESSION_KEY: SESSION_KEY,
        POMBO_FLEET_ID: "fleet-metrics-test",
        POMBO_FLEET_DATA_DIR: spoolDir(),
        POMBO_METRICS_PORT: String(port),
      },
      stdio: "ignore",
    });
    try {
      await until(() => edge.hellos.length === 1, 10_000, "hello from the child");
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, linked: true });
      const metrics = parseScrape(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(sampleOf(metrics, "pombo_fleet_edge_linked")).toBe(1);
      expect(sampleOf(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

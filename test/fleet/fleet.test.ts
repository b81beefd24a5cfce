import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { FleetConfig } from "../../fleet/config.ts";
import { Fleet } from "../../fleet/fleet.ts";
import { sealValue } from "../../fleet/session-store.ts";
import { initAuthCreds } from "@whiskeysockets/baileys";
import { type FakeEdge, startFakeEdge } from "./fake-edge.ts";
import { fakeSockets } from "./fake-socket.ts";
import { spoolDir } from "./inbound-harness.ts";
import { until } from "./memory-edge.ts";

const silent = pino({ level: "silent" });
const SESSION_KEY = "fleet test session key";

let edge: FakeEdge;
let fleets: Fleet[] = [];

beforeEach(async () => {
  edge = await startFakeEdge();
});
afterEach(async () => {
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
});

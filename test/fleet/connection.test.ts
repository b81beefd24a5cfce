import { BufferJSON, type WAVersion, initAuthCreds } from "@whiskeysockets/baileys";
import { HttpsProxyAgent } from "https-proxy-agent";
import { SocksProxyAgent } from "socks-proxy-agent";
import pino, { type Logger } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import { ConnectionManager } from "../../fleet/connection.ts";
import { WaVersionSource } from "../../fleet/wa-version.ts";
import type { LeaseGranted } from "../../shared/protocol.ts";
import { captureLogs } from "./captured-logs.ts";
import { fakeSockets } from "./fake-socket.ts";
import { memoryEdge, pairedSession } from "./memory-edge.ts";
import { testInbound } from "./inbound-harness.ts";

const silent = pino({ level: "silent" });
const cipher = new SessionCipher("test session key");
const instanceId = "inst_unit";
const grant: LeaseGranted = { instance_id: instanceId, ttl_ms: 15_000, config: { name: "unit", proxy_url: null } };
const CONFIGURED: WAVersion = [2, 3000, 1];
const LATEST: WAVersion = [2, 3000, 999];

/** Lets queued microtasks and I/O run without moving (fake) time forward. */
async function flush(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** An edge that already holds a paired session for the instance. */
function pairedEntries(): Map<string, string> {
  return pairedSession(cipher, instanceId, { id: "5511999990001:3@s.whatsapp.net", name: "Pombo" });
}

function setup({
  entries,
  versions,
  silenceMs,
  qrLimit,
  allowPrivateNetworks,
  logger = silent,
}: { entries?: Map<string, string>; versions?: WaVersionSource; silenceMs?: number; qrLimit?: number; allowPrivateNetworks?: boolean; logger?: Logger } = {}) {
  const edge = memoryEdge(entries);
  const { sockets, makeSocket } = fakeSockets();
  const fetchLatest = vi.fn(async () => ({ version: LATEST, isLatest: true }));
  const source = versions ?? new WaVersionSource(CONFIGURED, silent, fetchLatest);
  const manager = new ConnectionManager({
    instanceId,
    link: edge.link,
    cipher,
    versions: source,
    logger,
    fireInitQueries: true,
    allowPrivateNetworks,
    makeSocket,
    random: () => 0.5,
    spool: testInbound({ link: edge.link, cipher }).spool,
    silenceMs,
    qrLimit,
  });
  edge.serve(manager.methods);
  const last = () => edge.statuses.at(-1);
  return { edge, sockets, manager, fetchLatest, last };
}

afterEach(() => {
  vi.useRealTimers();
});

/** Fake clocks for the tests that wait minutes: timers and Date, not the I/O the PNG drawing needs. */
const FAKE: Parameters<typeof vi.useFakeTimers>[0] = { toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] };

/** A number with a paired session, leased to its manager, once the manager made its first socket. */
async function leasedPaired() {
  const s = setup({ entries: pairedEntries() });
  s.manager.leaseGranted(grant);
  await vi.waitFor(() => expect(s.sockets).toHaveLength(1));
  return s;
}

/** On a fake clock: a number set up with `opts` and leased to its manager, once the lease's first steps ran. */
async function leasedOnFakeClock(opts: Parameters<typeof setup>[0] = {}) {
  vi.useFakeTimers(FAKE);
  const s = setup(opts);
  s.manager.leaseGranted(grant);
  await flush();
  return s;
}

/** On a fake clock: a leased, paired number whose first socket WhatsApp closes with `code` (after it opened, if `opened`). */
async function closedWith(code: number, { opened = false } = {}) {
  const s = await leasedOnFakeClock({ entries: pairedEntries() });
  if (opened) {
    s.sockets[0]!.open();
    await flush();
  }
  s.sockets[0]!.close(code);
  await flush();
  return s;
}

describe("connection manager (unit, around the socket)", () => {
  it("QR pairing (unit, around the socket: the test peer has no QR pairing): a fresh instance shows a QR with a PNG", async () => {
    const { sockets, manager, last } = setup();
    manager.leaseGranted(grant);
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    // No session on the edge: Baileys gets fresh creds, i.e. it will pair.
    expect(sockets[0]!.config.auth.creds.me).toBeUndefined();
    expect(sockets[0]!.config.markOnlineOnConnect).toBe(false);

    const qr = "2@abc,def,ghi,jkl";
    sockets[0]!.update({ qr });
    await vi.waitFor(() => expect(last()?.state).toBe("qr_pending"));
    expect(last()!.qr).toBe(qr);
    const png = Buffer.from(last()!.qr_png!.replace(/^data:image\/png;base64,/, ""), "base64");
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBeGreaterThan(20); // IHDR width: a real, scannable image
    expect(png.readUInt32BE(16)).toBe(png.readUInt32BE(20)); // and square

    sockets[0]!.update({ qr: "2@second" });
    await vi.waitFor(() => expect(last()?.qr).toBe("2@second"));
  });

  it("reports connected with the account's jid, lid and push name", async () => {
    const { sockets, last } = await leasedPaired();
    expect(sockets[0]!.config.auth.creds.me?.id).toBe("5511999990001:3@s.whatsapp.net");
    sockets[0]!.update({ connection: "connecting" });
    await vi.waitFor(() => expect(last()?.state).toBe("connecting"));
    sockets[0]!.config.auth.creds.me!.lid = "123456789:3@lid";
    sockets[0]!.open();
    await vi.waitFor(() => expect(last()?.state).toBe("connected"));
    expect(last()).toMatchObject({ jid: "5511999990001:3@s.whatsapp.net", lid: "123456789:3@lid", push_name: "Pombo", reason: null });
  });

  it("401 (unit, around the socket: the test peer cannot log a device out): clears the session, reports logged_out, stays down", async () => {
    const { edge, sockets, last } = await closedWith(401, { opened: true });
    expect(edge.entries.size).toBe(0);
    expect(edge.requests.some((r) => r.method === "session.clear")).toBe(true);
    expect(last()).toMatchObject({ state: "disconnected", reason: "logged_out", close_code: 401 });
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(sockets).toHaveLength(1);
  });

  it("403 (unit, around the socket: the test peer cannot ban): reports banned, keeps the session, never reconnects", async () => {
    const { edge, sockets, last } = await closedWith(403);
    expect(last()).toMatchObject({ state: "disconnected", reason: "banned", close_code: 403 });
    expect(edge.entries.has("creds")).toBe(true);
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(sockets).toHaveLength(1);
  });

  it("440 (unit, around the socket: the test peer cannot replace a session): waits long before reconnecting", async () => {
    const { sockets, last } = await closedWith(440, { opened: true });
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 440 });
    // Another client took the session: a quick reconnect would start a kick-war.
    await vi.advanceTimersByTimeAsync(14_999);
    expect(sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(15_001);
    await flush();
    expect(sockets).toHaveLength(2);
  });

  it("an ordinary drop (428) reconnects within a second or so", async () => {
    const { sockets, last } = await closedWith(428);
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 428 });
    expect(sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await flush();
    expect(sockets).toHaveLength(2);
  });

  it("a number that keeps failing to reach WhatsApp logs each retry as one info line, \"reconnect scheduled\" with its close code, reason and error; the retry's own steps are debug; connecting again is info", async () => {
    const { logger, logs } = captureLogs("info");
    vi.useFakeTimers(FAKE);
    const { sockets, manager } = setup({ entries: pairedEntries(), logger });
    const records = () => logs().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    manager.leaseGranted(grant);
    await flush();
    sockets[0]!.close(408);
    await flush();
    // The first failure: its steps at info, then the first retry.
    expect(records().map((r) => r.msg)).toEqual(["socket started", "status disconnected", "reconnect scheduled"]);
    for (const attempt of [2, 3, 4]) {
      const before = records().length;
      await vi.advanceTimersByTimeAsync(records().at(-1)!.in_ms as number);
      await flush();
      expect(sockets).toHaveLength(attempt);
      sockets.at(-1)!.close(408);
      await flush();
      expect(records().slice(before)).toEqual([
        expect.objectContaining({ msg: "reconnect scheduled", attempt, close_code: 408, reason: "transient", err: "closed 408" }),
      ]);
    }
    await vi.advanceTimersByTimeAsync(records().at(-1)!.in_ms as number);
    await flush();
    expect(sockets).toHaveLength(5);
    const before = records().length;
    sockets.at(-1)!.open();
    await flush();
    expect(records().slice(before).map((r) => r.msg)).toEqual(["status connected"]);
  });

  it("515 (unit, around the socket: the test peer never asks for a restart): reconnects immediately", async () => {
    const { sockets, last } = await closedWith(515); // no time passes at all
    expect(sockets).toHaveLength(2);
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 515 });
  });

  it("405 (unit, around the socket: the test peer accepts any version): refreshes the WA version once per process", async () => {
    vi.useFakeTimers(FAKE);
    const fetchLatest = vi.fn(async () => ({ version: LATEST, isLatest: true }));
    const versions = new WaVersionSource(CONFIGURED, silent, fetchLatest);
    const a = setup({ entries: pairedEntries(), versions });
    const b = setup({ entries: pairedEntries(), versions });
    a.manager.leaseGranted(grant);
    b.manager.leaseGranted(grant);
    await flush();
    expect(a.sockets[0]!.config.version).toEqual(CONFIGURED);
    a.sockets[0]!.close(405);
    b.sockets[0]!.close(405);
    await flush();
    await vi.advanceTimersByTimeAsync(1_000);
    await flush();
    expect(fetchLatest).toHaveBeenCalledTimes(1);
    expect(a.sockets[1]!.config.version).toEqual(LATEST);
    expect(b.sockets[1]!.config.version).toEqual(LATEST);
    a.sockets[1]!.close(405);
    await flush();
    await vi.advanceTimersByTimeAsync(5_000);
    await flush();
    expect(fetchLatest).toHaveBeenCalledTimes(1);
    expect(a.sockets).toHaveLength(3);
  });

  it("405 with WhatsApp unreachable keeps the configured version", async () => {
    const fetchLatest = vi.fn(async () => ({ version: [9, 9, 9] as WAVersion, isLatest: false, error: new Error("offline") }));
    const versions = new WaVersionSource(CONFIGURED, silent, fetchLatest);
    expect(await versions.refresh()).toEqual(CONFIGURED);
    expect(versions.current()).toEqual(CONFIGURED);
  });

  it("kills the socket at once when the lease is lost, and starts a new one when it is granted again", async () => {
    const { sockets, manager, last } = await leasedPaired();
    sockets[0]!.open();
    manager.leaseLost();
    expect(sockets[0]!.ended).toBe(true); // synchronously: no await between loss and kill
    await flush();
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient" });
    expect(sockets).toHaveLength(1);
    manager.leaseGranted(grant);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
  });

  it("a repeated grant while the socket runs (link reconnected) keeps the same socket", async () => {
    const { sockets, manager } = await leasedPaired();
    manager.leaseGranted(grant);
    await flush();
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.ended).toBe(false);
  });
});

describe("per-number proxy", () => {
  // proxy.local cannot be resolved here: these run as an operator who allows private networks, so nothing is looked up.
  it("sends the number's WhatsApp socket and media fetches through its proxy", async () => {
    const { sockets, manager } = setup({ entries: pairedEntries(), allowPrivateNetworks: true });
    manager.leaseGranted({ ...grant, config: { name: "unit", proxy_url: "http://user:secret@proxy.local:3128" } });
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]!.config.agent).toBeInstanceOf(HttpsProxyAgent);
    expect(sockets[0]!.config.fetchAgent).toBe(sockets[0]!.config.agent);
  });

  it("uses a SOCKS agent for socks URLs, and a new socket when the proxy changes", async () => {
    const { sockets, manager } = setup({ entries: pairedEntries(), allowPrivateNetworks: true });
    manager.leaseGranted(grant);
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]!.config.agent).toBeUndefined();
    manager.leaseGranted({ ...grant, config: { name: "unit", proxy_url: "socks5://proxy.local:1080" } });
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[0]!.ended).toBe(true);
    expect(sockets[1]!.config.agent).toBeInstanceOf(SocksProxyAgent);
  });

  it("makes no socket through a loopback or local-name proxy the edge handed over, unless private networks are allowed", async () => {
    for (const proxy_url of ["socks5://127.0.0.1:1080", "http://localhost.:3128", "http://proxy.local:3128"]) {
      const { sockets, manager } = setup({ entries: pairedEntries() });
      manager.leaseGranted({ ...grant, config: { name: "unit", proxy_url } });
      await flush();
      expect(sockets, proxy_url).toHaveLength(0);
      await manager.stop();
    }
    const { sockets, manager } = setup({ entries: pairedEntries(), allowPrivateNetworks: true });
    manager.leaseGranted({ ...grant, config: { name: "unit", proxy_url: "socks5://127.0.0.1:1080" } });
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]!.config.agent).toBeInstanceOf(SocksProxyAgent);
  });
});

describe("operator commands", () => {
  it("logout works on a socket that never opened: no WhatsApp call, session wiped, logged_out", async () => {
    const { edge, sockets, last } = await leasedPaired();
    sockets[0]!.update({ connection: "connecting" });
    await edge.edge.call("instance.logout", {});
    expect(sockets[0]!.loggedOut).toBe(false);
    expect(sockets[0]!.ended).toBe(true);
    expect(edge.entries.size).toBe(0);
    expect(last()).toMatchObject({ state: "disconnected", reason: "logged_out" });
  });

  it("logout on a connected socket tells WhatsApp, then wipes the session", async () => {
    const { edge, sockets, last } = await leasedPaired();
    sockets[0]!.open();
    await vi.waitFor(() => expect(last()?.state).toBe("connected"));
    await edge.edge.call("instance.logout", {});
    expect(sockets[0]!.loggedOut).toBe(true);
    expect(edge.entries.size).toBe(0);
    expect(last()).toMatchObject({ state: "disconnected", reason: "logged_out" });
  });

  it("restart after a logout starts a fresh pairing", async () => {
    const { edge, sockets } = await leasedPaired();
    await edge.edge.call("instance.logout", {});
    await edge.edge.call("instance.restart", {});
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[1]!.config.auth.creds.me).toBeUndefined();
  });

  it("restart replaces a running socket with a new one on the same session", async () => {
    const { edge, sockets } = await leasedPaired();
    sockets[0]!.update({ connection: "open" });
    await vi.waitFor(() => expect(edge.statuses.at(-1)?.state).toBe("connected"));
    await edge.edge.call("instance.restart", {});
    // By the time the restart is answered the edge already heard it is reconnecting.
    expect(edge.statuses.at(-1)?.state).toBe("connecting");
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[0]!.ended).toBe(true);
    expect(sockets[1]!.config.auth.creds.noiseKey.public).toEqual(sockets[0]!.config.auth.creds.noiseKey.public);
  });

  it("pairing_code asks WhatsApp for a code on an unpaired socket, with the phone as digits", async () => {
    const { edge, sockets, manager } = setup();
    manager.leaseGranted(grant);
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    const pending = edge.edge.call("instance.pairing_code", { phone: "+55 (11) 99999-0001" });
    await flush();
    sockets[0]!.update({ qr: "2@ref" }); // the socket is ready once it offers a QR
    await expect(pending).resolves.toEqual({ code: "K7QJ3XWP" });
    expect(sockets[0]!.pairingRequests).toEqual(["5511999990001"]);
  });

  it("pairing_code (unit, around the socket: the test peer has no pairing) fails at once with not_ready when WhatsApp cannot be reached", async () => {
    const { edge, sockets, manager } = setup();
    manager.leaseGranted(grant);
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    const started = Date.now();
    const pending = edge.edge.call("instance.pairing_code", { phone: "5511999990001" });
    await flush();
    sockets[0]!.close(408); // the socket could not reach WhatsApp before offering a QR
    await expect(pending).rejects.toMatchObject({ code: "not_ready" });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sockets[0]!.pairingRequests).toEqual([]);
  });

  it("pairing_code on a paired instance fails with already_paired", async () => {
    const { edge, sockets } = await leasedPaired();
    await expect(edge.edge.call("instance.pairing_code", { phone: "5511999990001" })).rejects.toMatchObject({ code: "already_paired" });
    expect(sockets[0]!.pairingRequests).toEqual([]);
  });

  it("import_session rejects creds without me.id", async () => {
    const { edge, manager } = setup({ entries: pairedEntries() });
    manager.leaseGranted(grant);
    const creds = JSON.parse(JSON.stringify(initAuthCreds(), BufferJSON.replacer));
    await expect(edge.edge.call("instance.import_session", { creds })).rejects.toMatchObject({ code: "invalid_session" });
    await expect(edge.edge.call("instance.import_session", { creds: { me: { id: "x" } } })).rejects.toMatchObject({
      code: "invalid_session",
    });
  });

  it("import_session replaces the session and restarts the socket with the imported creds", async () => {
    const { edge, sockets } = await leasedPaired();
    await sockets[0]!.config.auth.keys.set({ session: { "old.0": Buffer.from("stale") } });
    const imported = initAuthCreds();
    imported.me = { id: "5511777770007:2@s.whatsapp.net" };
    const creds = JSON.parse(JSON.stringify(imported, BufferJSON.replacer));
    await edge.edge.call("instance.import_session", { creds });
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[0]!.ended).toBe(true);
    expect(sockets[1]!.config.auth.creds.me?.id).toBe("5511777770007:2@s.whatsapp.net");
    expect(Buffer.from(sockets[1]!.config.auth.creds.noiseKey.private)).toEqual(Buffer.from(imported.noiseKey.private));
    expect([...edge.entries.keys()]).toEqual(["creds"]); // the old keys went with the old session
  });

  it("echo answers with the same value", async () => {
    const { edge } = setup();
    await expect(edge.edge.call("echo", { at: 1234.5 })).resolves.toEqual({ at: 1234.5 });
  });
});

describe("pairing nobody completes (unit, around the socket: the test peer has no QR pairing)", () => {
  const qrs = (edge: { statuses: { state: string }[] }) => edge.statuses.filter((s) => s.state === "qr_pending").length;
  /** Shows a QR and waits until the edge has it (the PNG is drawn first). */
  const show = async (sock: { update(u: { qr: string }): void }, qr: string, last: () => { qr: string | null } | undefined) => {
    sock.update({ qr });
    await vi.waitFor(() => expect(last()?.qr).toBe(qr));
  };

  it("after qrLimit unscanned QRs, across reconnects, reports pairing_expired and stops: no new socket, no more QRs", async () => {
    const { edge, sockets, last } = await leasedOnFakeClock({ qrLimit: 3 });
    await show(sockets[0]!, "2@one", last);
    await show(sockets[0]!, "2@two", last);
    sockets[0]!.close(408); // WhatsApp ends a socket once its QR refs run out
    await flush();
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 408 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sockets).toHaveLength(2);
    await show(sockets[1]!, "2@three", last);
    sockets[1]!.update({ qr: "2@four" }); // the third went unscanned too
    await flush();
    expect(last()).toMatchObject({ state: "disconnected", reason: "pairing_expired", close_code: null, qr: null });
    expect(sockets[1]!.ended).toBe(true);
    expect(qrs(edge)).toBe(3);
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(sockets).toHaveLength(2);
    expect(last()?.reason).toBe("pairing_expired");
  });

  it("expires when the socket showing the last allowed QR closes, instead of reconnecting", async () => {
    const { sockets, last } = await leasedOnFakeClock({ qrLimit: 2 });
    await show(sockets[0]!, "2@one", last);
    await show(sockets[0]!, "2@two", last);
    sockets[0]!.close(408);
    await flush();
    expect(last()).toMatchObject({ state: "disconnected", reason: "pairing_expired" });
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(sockets).toHaveLength(1);
  });

  it("a restart, or asking for a pairing code, starts pairing again with a fresh allowance of QRs", async () => {
    const { edge, sockets, last } = await leasedOnFakeClock({ qrLimit: 1 });
    await show(sockets[0]!, "2@one", last);
    sockets[0]!.update({ qr: "2@two" });
    await flush();
    expect(last()?.reason).toBe("pairing_expired");

    await edge.edge.call("instance.restart", {});
    await flush();
    expect(sockets).toHaveLength(2);
    await show(sockets[1]!, "2@again", last);
    sockets[1]!.update({ qr: "2@again-two" });
    await flush();
    expect(last()?.reason).toBe("pairing_expired");

    const code = edge.edge.call("instance.pairing_code", { phone: "5511999990001" });
    await flush();
    expect(sockets).toHaveLength(3);
    sockets[2]!.update({ qr: "2@for-the-code" });
    await expect(code).resolves.toEqual({ code: "K7QJ3XWP" });
    expect(last()).toMatchObject({ state: "qr_pending" });
  });

  it("a QR scanned at the last moment still connects: the 515 that follows pairing reconnects", async () => {
    const { sockets, last } = await leasedOnFakeClock({ qrLimit: 1 });
    await show(sockets[0]!, "2@only", last);
    // Scanned: Baileys stores the signed device identity, then WhatsApp asks for a restart.
    const creds = sockets[0]!.config.auth.creds;
    creds.me = { id: "5511999990001:9@s.whatsapp.net" };
    creds.account = { details: new Uint8Array(1), accountSignatureKey: new Uint8Array(1), accountSignature: new Uint8Array(1), deviceSignature: new Uint8Array(1) };
    sockets[0]!.close(515);
    await flush();
    expect(sockets).toHaveLength(2);
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 515 });
  });

  it("a lease granted for a parked number (logged out, banned, pairing expired) does not connect until a command says so", async () => {
    vi.useFakeTimers(FAKE);
    for (const parked of ["pairing_expired", "logged_out", "banned"] as const) {
      const { edge, sockets, manager } = setup();
      manager.leaseGranted({ ...grant, config: { ...grant.config, parked } });
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(sockets).toHaveLength(0);
      await edge.edge.call("instance.restart", {});
      await flush();
      expect(sockets).toHaveLength(1);
    }
  });
});

describe("dead sockets (unit, around the socket; the real peer going silent is in test/e2e/liveness.test.ts)", () => {

  it("a socket that receives nothing past the bound is dropped without a handshake, reported, and replaced", async () => {
    const { edge, sockets, last } = await leasedOnFakeClock({ entries: pairedEntries(), silenceMs: 3_000 });
    const sock = sockets[0]!;
    // Baileys is told to ping (keep-alive) well inside the bound, so a healthy idle socket always hears something.
    expect(sock.config.keepAliveIntervalMs).toBeLessThanOrEqual(2_000);
    const terminate = vi.fn();
    Object.assign(sock.ws, { socket: { terminate } });
    sock.open();
    await flush();
    // Frames keep coming: alive, whatever the time.
    for (let i = 0; i < 10; i++) {
      sock.ws.emit("message", Buffer.from("frame"));
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(sockets).toHaveLength(1);
    expect(last()?.state).toBe("connected");
    // Then nothing at all, with the socket still "open".
    await vi.advanceTimersByTimeAsync(3_999);
    expect(terminate).toHaveBeenCalledOnce();
    expect(sock.ended).toBe(true);
    expect(last()).toMatchObject({ state: "disconnected", reason: "transient", close_code: 408 });
    expect(edge.silentSockets).toHaveLength(1);
    expect(edge.silentSockets[0]).toBeGreaterThan(3_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sockets).toHaveLength(2);
    sockets[1]!.open();
    await flush();
    expect(last()?.state).toBe("connected");
  });

  it("the default bound is 45 s, with Baileys' own 30 s keep-alive", async () => {
    const { edge, sockets } = await leasedOnFakeClock({ entries: pairedEntries() });
    expect(sockets[0]!.config.keepAliveIntervalMs).toBe(30_000);
    sockets[0]!.open();
    await vi.advanceTimersByTimeAsync(44_000);
    expect(sockets[0]!.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sockets[0]!.ended).toBe(true);
    expect(edge.silentSockets).toHaveLength(1);
  });
});

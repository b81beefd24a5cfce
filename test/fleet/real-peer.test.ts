/**
 * The connection manager against a real WhatsApp protocol peer (crabline):
 * a real Baileys socket, a real Noise handshake, real Signal sessions. Only
 * the edge is in memory (its Durable Object is tested with the edge).
 */
import { type StartedWhatsAppServer, startWhatsAppServer } from "@openclaw/crabline";
import makeWASocket, { type AuthenticationCreds, type UserFacingSocketConfig, initAuthCreds } from "@whiskeysockets/baileys";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { MakeSocket } from "../../fleet/wa-socket.ts";
import { openValue, sealValue } from "../../fleet/session-store.ts";
import { guardConsole } from "../../fleet/console-guard.ts";
import { memoryEdge, until } from "./memory-edge.ts";
import { testInbound } from "./inbound-harness.ts";
import { peerManager } from "./peer-manager.ts";

const PHONE = "5511999990001";
const SELF_JID = `${PHONE}@s.whatsapp.net`;
const instanceId = "inst_peer";
const cipher = new SessionCipher("real peer session key");
const logger = pino({ level: "silent" });
const grant = { instance_id: instanceId, ttl_ms: 15_000, config: { name: "peer", proxy_url: null } };

let server: StartedWhatsAppServer;
let dir: string;
let restoreConsole: () => void;

beforeAll(async () => {
  // libsignal prints session records (private keys included) to the console; the fleet reroutes it.
  restoreConsole = guardConsole(logger);
  dir = mkdtempSync(join(tmpdir(), "pombo-fleet-peer-"));
  server = await startWhatsAppServer({ selfJid: SELF_JID, recorderPath: join(dir, "recorder.jsonl") });
});

afterAll(async () => {
  restoreConsole?.();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a manager on `entries` with real Baileys; records the config each socket got. */
function run(entries: Map<string, string>) {
  const edge = memoryEdge(entries);
  const configs: UserFacingSocketConfig[] = [];
  const sockets: ReturnType<typeof makeWASocket>[] = [];
  const makeSocket: MakeSocket = (config) => {
    configs.push(config);
    const sock = makeWASocket(config);
    sockets.push(sock);
    return sock;
  };
  const manager = peerManager({
    instanceId,
    cipher,
    logger,
    edge,
    waUrl: server.manifest.endpoints.baileysWebSocketUrl,
    fireInitQueries: true, // the production default; crabline 0.1.27 answers the init queries
    makeSocket,
    spool: testInbound({ link: edge.link, cipher, logger }).spool,
  });
  manager.leaseGranted(grant);
  return { edge, manager, configs, sockets };
}

const CONTACT = "5511888880002@s.whatsapp.net";

/** Lines the peer recorded as accepted (decrypted) sends. */
function acceptedTexts(): string[] {
  return readFileSync(server.manifest.recorderPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.stringify(JSON.parse(line)))
    .filter((line) => line.includes("accepted"));
}

describe("connection manager against a real WhatsApp peer", () => {
  it("connects on a stored session, keeps only ciphertext on the edge, and reconnects on it after a restart without pairing", async () => {
    // The session as the edge holds it after a pairing (or an import).
    const creds = initAuthCreds();
    creds.me = { id: `${PHONE}:1@s.whatsapp.net` };
    creds.registered = true;
    const entries = new Map([["creds", sealValue(cipher, instanceId, "creds", creds)]]);

    const first = run(entries);
    await until(() => first.manager.status.state === "connected", 10_000, "first connection");
    expect(first.manager.status.jid).toBe(`${PHONE}:1@s.whatsapp.net`);
    expect(first.edge.statuses.map((s) => s.state)).not.toContain("qr_pending");

    // A send makes Baileys fetch the contact's keys and store a new Signal session.
    await first.sockets[0]!.sendMessage(CONTACT, { text: "primeira" });
    await until(() => [...entries.keys()].some((k) => k.startsWith("session:")), 10_000, "a stored Signal session");
    await until(() => acceptedTexts().some((l) => l.includes("primeira")), 10_000, "the peer to accept the first send");
    const contactSession = [...entries.keys()].find((k) => k.startsWith("session:5511888880002"));
    expect(contactSession).toBeDefined();

    // Everything the edge received is ours, encrypted: no creds or key material in the clear.
    const secrets = [
      Buffer.from(creds.noiseKey.private).toString("base64"),
      Buffer.from(creds.signedIdentityKey.private).toString("base64"),
      creds.advSecretKey,
      PHONE,
    ];
    const written = first.edge.requests
      .filter((r) => r.method === "session.set")
      .flatMap((r) => Object.entries((r.params as { entries: Record<string, string | null> }).entries));
    expect(written.length).toBeGreaterThan(1);
    for (const [key, value] of written) {
      if (value === null) continue;
      expect(value).toMatch(/^v1\.[^.]+\.[^.]+$/);
      for (const secret of secrets) expect(value).not.toContain(secret);
      expect(() => openValue(cipher, instanceId, key, value)).not.toThrow();
    }

    await first.manager.stop();
    const stored = openValue(cipher, instanceId, "creds", entries.get("creds")!) as AuthenticationCreds;
    expect(stored.registrationId).toBe(creds.registrationId);

    // A new manager (another process, say) on the same edge store.
    const second = run(entries);
    await until(() => second.manager.status.state === "connected", 10_000, "second connection");
    const used = second.configs[0]!.auth.creds;
    expect(used.registrationId).toBe(creds.registrationId);
    expect(Buffer.from(used.noiseKey.public)).toEqual(Buffer.from(creds.noiseKey.public));
    expect(second.edge.statuses.map((s) => s.state)).not.toContain("qr_pending");

    // The stored Signal session is read back from the edge, decrypted, and used.
    await second.sockets[0]!.sendMessage(CONTACT, { text: "segunda" });
    await until(() => acceptedTexts().some((l) => l.includes("segunda")), 10_000, "the peer to accept the second send");
    const readBack = second.edge.requests
      .filter((r) => r.method === "session.get")
      .flatMap((r) => (r.params as { keys: string[] }).keys)
      .filter((k) => k.startsWith("session:"));
    expect(readBack).toContain(contactSession);
    await second.manager.stop();
  });
});

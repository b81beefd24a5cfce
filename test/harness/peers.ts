/**
 * WhatsApp-protocol peers for the end-to-end tests, the benchmarks and the
 * chaos suite.
 *
 *  - `startPeers(n)` starts n crabline WhatsApp servers (one phone number
 *    each) in this process (`peer-processes.ts` runs them in children).
 *  - `makeCreds(phone)` builds a registered Baileys creds.json for a number,
 *    serialised with `BufferJSON.replacer`, ready for
 *    `POST /instances/{id}/session`.
 */
import type { StartedWhatsAppServer } from "@openclaw/crabline";
import { MEMORY_RECORDER, PhoneDirectory, type TestPeer, startPeer } from "../peer/peer.ts";
import { BufferJSON, initAuthCreds } from "@whiskeysockets/baileys";
import { PEER_ACCESS_TOKEN, type PeerTarget } from "./routing-proxy.ts";

/** A number's peer as a stack needs it, wherever it runs: its phone, and where the routing proxy sends its sockets. */
export type NumberPeer = PeerTarget & { phone: string };

/** The peers of a stack's numbers: started in this process (`startPeers`) or in children (`PeerProcesses`). */
export interface PeerSet<P extends NumberPeer = NumberPeer> {
  readonly peers: P[];
  readonly accessToken: string;
  close(): Promise<void>;
}

export interface Peer extends NumberPeer {
  index: number;
  /** Digits only, e.g. `5511900000001`. */
  phone: string;
  selfJid: string;
  /** The peer's own Baileys WebSocket URL (direct, not through the proxy). */
  directUrl: string;
  adminInboundUrl: string;
  adminToken: string;
  server: StartedWhatsAppServer;
  /** What this number sent, as WhatsApp received it (decrypted), in order. */
  accepted: TestPeer["accepted"];
  waitForAccepted: TestPeer["waitForAccepted"];
  /** Puts a message on the number's socket, as if a customer sent it. Resolves with its WhatsApp id. */
  inject: TestPeer["inject"];
  /** Rings the number (a call offer). */
  offerCall: TestPeer["offerCall"];
  /** Fresh pairing refs to the clients pairing with this number (a new QR each). */
  sendPairDevice: TestPeer["sendPairDevice"];
  /** What the number's socket told the peer (receipts, acks), in order: what WhatsApp knows it took. */
  clientNodes: TestPeer["clientNodes"];
  /** Whether the number's client acknowledged a received message (WhatsApp will not send it again). */
  acknowledged: TestPeer["acknowledged"];
  /** The devices a status post carried its sender key to. */
  statusKeyRecipients: TestPeer["statusKeyRecipients"];
}

export interface Peers extends PeerSet<Peer> {
  /** Who is on WhatsApp, for every peer's phone lookups. Register customers here. */
  directory: PhoneDirectory;
}

/** Phone number of the i-th peer: distinct, valid-looking Brazilian mobiles. */
export function peerPhone(i: number, base = 5511900000000): string {
  return String(base + 1 + i);
}

export async function startPeers(
  n: number,
  opts: { accessToken?: string; phoneBase?: number; directory?: PhoneDirectory } = {},
): Promise<Peers> {
  const accessToken = opts.accessToken ?? PEER_ACCESS_TOKEN;
  // One WhatsApp: every number's lookups answer from the same directory.
  const directory = opts.directory ?? new PhoneDirectory();
  const peers: Peer[] = [];
  const close = async () => {
    await Promise.allSettled(peers.map((p) => p.server.close()));
  };
  try {
    // Start in small batches: each start binds a port. Nothing here reads a recorder file: they record in memory.
    for (let i = 0; i < n; i += 25) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 25); j++) {
        const phone = peerPhone(j, opts.phoneBase);
        batch.push(
          startPeer({ phone, directory, accessToken, recorderPath: MEMORY_RECORDER }).then((peer) => {
            const ws = new URL(peer.url);
            const { manifest } = peer.server;
            peers[j] = {
              index: j,
              phone,
              selfJid: peer.selfJid,
              host: ws.hostname,
              port: Number(ws.port),
              path: ws.pathname,
              directUrl: peer.url,
              adminInboundUrl: manifest.endpoints.adminInboundUrl,
              adminToken: manifest.adminToken,
              server: peer.server,
              accepted: peer.accepted,
              waitForAccepted: peer.waitForAccepted,
              inject: peer.inject,
              offerCall: peer.offerCall,
              sendPairDevice: peer.sendPairDevice,
              clientNodes: peer.clientNodes,
              acknowledged: peer.acknowledged,
              statusKeyRecipients: peer.statusKeyRecipients,
            };
          }),
        );
      }
      await Promise.all(batch);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { peers, accessToken, directory, close };
}

/** A registered creds.json (as a JSON string) for `phone` (digits only). */
export function makeCreds(phone: string): string {
  return JSON.stringify(makeCredsObject(phone), BufferJSON.replacer);
}

function makeCredsObject(phone: string) {
  const creds = initAuthCreds();
  creds.me = { id: `${phone}:1@s.whatsapp.net` };
  creds.registered = true;
  return creds;
}

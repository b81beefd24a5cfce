/**
 * A connection manager on a stand-in socket that is already open, with the
 * in-memory edge: for receive-path tests of what the loopback peer cannot
 * send (votes, groups, history sync, files on other hosts). The test emits
 * Baileys events on `sock.ev` and reads what reached `edge`.
 */
import type { Contact } from "@whiskeysockets/baileys";
import pino, { type Logger } from "pino";
import type { SessionCipher } from "../../fleet/cipher.ts";
import { ConnectionManager, type ConnectionManagerOptions } from "../../fleet/connection.ts";
import { WaVersionSource } from "../../fleet/wa-version.ts";
import { type FakeSocket, fakeSockets } from "./fake-socket.ts";
import { type MemoryEdge, memoryEdge, pairedSession, until } from "./memory-edge.ts";
import { testInbound } from "./inbound-harness.ts";

export type OpenManager = {
  edge: MemoryEdge;
  manager: ConnectionManager;
  sock: FakeSocket;
  /** Every socket the manager made, in order (a reconnect makes the next one). */
  sockets: FakeSocket[];
};

export async function openManager(opts: {
  instanceId: string;
  cipher: SessionCipher;
  /** The account: `creds.me`. */
  me: Contact;
  logger?: Logger;
  /** What the number's layers fetch with: the edge's media, and which hosts files may come from. */
  layers?: Pick<ConnectionManagerOptions, "fetchMedia" | "mediaHosts">;
}): Promise<OpenManager> {
  const logger = opts.logger ?? pino({ level: "silent" });
  const edge = memoryEdge(pairedSession(opts.cipher, opts.instanceId, opts.me));
  const { sockets, makeSocket } = fakeSockets();
  // No waUrl: WhatsApp proper, as far as the manager knows.
  const manager = new ConnectionManager({
    instanceId: opts.instanceId,
    link: edge.link,
    cipher: opts.cipher,
    versions: new WaVersionSource([2, 3000, 1], logger),
    logger,
    fireInitQueries: false,
    makeSocket,
    spool: testInbound({ link: edge.link, cipher: opts.cipher, logger }).spool,
    ...opts.layers,
  });
  edge.serve(manager.methods);
  manager.leaseGranted({ instance_id: opts.instanceId, ttl_ms: 15_000, config: { name: opts.instanceId, proxy_url: null } });
  await until(() => sockets.length === 1, 3_000, "a socket");
  sockets[0]!.open();
  await until(() => manager.status.state === "connected", 3_000, "connected");
  return { edge, manager, sock: sockets[0]!, sockets };
}

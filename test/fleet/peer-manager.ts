/**
 * A connection manager on real Baileys, for the tests against the loopback
 * WhatsApp peer (test/peer/): served on the in-memory edge, announcing
 * Baileys' own WhatsApp Web version, init queries off unless asked for.
 */
import makeWASocket, { DEFAULT_CONNECTION_CONFIG } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { SessionCipher } from "../../fleet/cipher.ts";
import { ConnectionManager } from "../../fleet/connection.ts";
import type { InboundSpool } from "../../fleet/inbound-spool.ts";
import type { MakeSocket } from "../../fleet/wa-socket.ts";
import { WaVersionSource } from "../../fleet/wa-version.ts";
import type { MemoryEdge } from "./memory-edge.ts";

export function peerManager(opts: {
  instanceId: string;
  cipher: SessionCipher;
  logger: Logger;
  edge: MemoryEdge;
  /** The peer's WebSocket URL. */
  waUrl: string;
  spool: InboundSpool;
  fireInitQueries?: boolean;
  allowPrivateNetworks?: boolean;
  makeSocket?: MakeSocket;
}): ConnectionManager {
  const { instanceId, cipher, logger, edge, waUrl, spool } = opts;
  const manager = new ConnectionManager({
    instanceId,
    link: edge.link,
    cipher,
    versions: new WaVersionSource(DEFAULT_CONNECTION_CONFIG.version, logger),
    logger,
    waUrl,
    fireInitQueries: opts.fireInitQueries ?? false,
    allowPrivateNetworks: opts.allowPrivateNetworks,
    makeSocket: opts.makeSocket ?? (makeWASocket as unknown as MakeSocket),
    spool,
  });
  edge.serve(manager.methods);
  return manager;
}

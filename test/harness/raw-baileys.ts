/**
 * A bare Baileys socket with in-memory keys, for checking the peers and the
 * routing proxy without the fleet. Not used by the fleet itself.
 */
import makeWASocket, {
  BufferJSON,
  DisconnectReason,
  type AuthenticationCreds,
  type SignalDataTypeMap,
  type SignalKeyStore,
  type WASocket,
} from "@whiskeysockets/baileys";
import pino from "pino";

function memoryKeys(): SignalKeyStore {
  const data = new Map<string, unknown>();
  return {
    async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const out: { [id: string]: SignalDataTypeMap[T] } = {};
      for (const id of ids) {
        const v = data.get(`${type}:${id}`);
        if (v !== undefined) out[id] = v as SignalDataTypeMap[T];
      }
      return out;
    },
    async set(values) {
      for (const [type, entries] of Object.entries(values)) {
        for (const [id, v] of Object.entries(entries ?? {})) {
          if (v === null || v === undefined) data.delete(`${type}:${id}`);
          else data.set(`${type}:${id}`, v);
        }
      }
    },
  };
}

export interface RawConnectResult {
  sock: WASocket;
  /** Resolves on `connection: open`; rejects on close before open (with the close code). */
  opened: Promise<void>;
  close(): void;
}

/**
 * Connects one Baileys socket to `url` with `credsJson` (a makeCreds() string).
 * `fireInitQueries` defaults to false, which the crabline peer needs (see README).
 */
export function rawConnect(url: string, credsJson: string, opts: { fireInitQueries?: boolean } = {}): RawConnectResult {
  const creds = JSON.parse(credsJson, BufferJSON.reviver) as AuthenticationCreds;
  const sock = makeWASocket({
    auth: { creds, keys: memoryKeys() },
    waWebSocketUrl: url,
    logger: pino({ level: process.env.RAW_BAILEYS_LOG ?? "silent" }),
    printQRInTerminal: false,
    fireInitQueries: opts.fireInitQueries ?? false,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
    connectTimeoutMs: 10_000,
  } as Parameters<typeof makeWASocket>[0]);
  const opened = new Promise<void>((resolve, reject) => {
    sock.ev.on("connection.update", (u) => {
      if (u.connection === "open") resolve();
      if (u.connection === "close") {
        const code = (u.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode;
        reject(new Error(`closed before open: ${code ?? "?"} ${u.lastDisconnect?.error?.message ?? ""}`));
      }
    });
  });
  opened.catch(() => {});
  return {
    sock,
    opened,
    close: () => {
      try {
        sock.end(undefined);
      } catch {
        /* already closed */
      }
    },
  };
}

export { DisconnectReason };

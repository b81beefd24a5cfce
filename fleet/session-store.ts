/**
 * A Baileys `AuthenticationState` kept in the instance's Durable Object.
 *
 * The fleet keeps no session on disk: any process holding the lease can pick
 * a number up from the edge. Slots in the edge store:
 *   - `creds`          the Baileys creds (identity, noise key, me, ...)
 *   - `<type>:<id>`    one Signal key, e.g. `session:5511...`, `pre-key:12`
 * Each value is Baileys' BufferJSON text, encrypted by SessionCipher, so the
 * edge only ever holds ciphertext.
 *
 * Writes go out one at a time, in the order Baileys made them: a later
 * ratchet step must never be overtaken by an earlier one. Each `keys.set`
 * becomes exactly one (atomic) `session.set`, so Baileys' transactions stay
 * all-or-nothing on the edge too.
 */
import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  initAuthCreds,
  makeCacheableSignalKeyStore,
  proto,
} from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { SessionCipher } from "./cipher.ts";
import type { EdgeLink } from "./edge-link.ts";
import { KeyCache } from "./key-cache.ts";

export const CREDS_KEY = "creds";
/** The edge accepts at most this many keys per session.get. */
const MAX_KEYS_PER_GET = 2_000;

export type SessionStoreOptions = {
  link: Pick<EdgeLink, "call">;
  cipher: SessionCipher;
  instanceId: string;
  logger?: Logger;
};

export type SessionStore = {
  /** Hand this to makeWASocket as `auth`. */
  state: AuthenticationState;
  /** True when there were no creds on the edge and fresh ones (QR pairing) were made. */
  fresh: boolean;
  /** Persists `state.creds` as they are now; call on every `creds.update`. */
  saveCreds(): Promise<void>;
  /** Resolves once every write queued so far has been answered (or failed). */
  flush(): Promise<void>;
  /** Drops the key cache; later writes are ignored (queued ones still go out: see flush). */
  close(): void;
};

export function slotKey(type: keyof SignalDataTypeMap, id: string): string {
  return `${type}:${id}`;
}

/** Serialises and encrypts one value for its slot. */
export function sealValue(cipher: SessionCipher, instanceId: string, key: string, value: unknown): string {
  return cipher.encrypt(instanceId, key, JSON.stringify(value, BufferJSON.replacer));
}

/** Decrypts and revives one value; throws CipherError if it is not ours. */
export function openValue(cipher: SessionCipher, instanceId: string, key: string, sealed: string): unknown {
  return JSON.parse(cipher.decrypt(instanceId, key, sealed), BufferJSON.reviver);
}

/** Loads the creds from the edge (or makes fresh ones) and returns the auth state around them. */
export async function openSessionStore({ link, cipher, instanceId, logger }: SessionStoreOptions): Promise<SessionStore> {
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  // Keys with a write on its way to the edge: a read of one of them waits for it.
  const inFlight = new Map<string, number>();
  // Keys the edge said it does not have. We are the session's only writer
  // while we hold the lease, so "absent" stays true until we write the key;
  // without this, Baileys asks the edge again for the same absent keys on every send.
  const absent = new Set<string>();
  // Chains one write behind the previous ones; the returned promise carries
  // this write's own outcome, while the chain itself never breaks.
  const enqueueWrite = (entries: Record<string, string | null>): Promise<void> => {
    if (closed) {
      // The socket this store served has ended (drain, logout, lost lease):
      // a late write could land after a session.clear or another holder's writes.
      logger?.debug({ entries: Object.keys(entries).length }, "session write after close dropped");
      return Promise.resolve();
    }
    const keys = Object.keys(entries);
    for (const key of keys) {
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      if (entries[key] !== null) absent.delete(key);
    }
    const write = tail.then(() => link.call("session.set", { entries })).then(() => undefined);
    const settled = write.catch(() => undefined).then(() => {
      for (const key of keys) {
        const n = (inFlight.get(key) ?? 1) - 1;
        if (n === 0) inFlight.delete(key);
        else inFlight.set(key, n);
      }
    });
    tail = settled;
    return write;
  };

  const { values } = await link.call("session.get", { keys: [CREDS_KEY] });
  const sealedCreds = values[CREDS_KEY];
  const fresh = sealedCreds == null;
  const creds = fresh ? initAuthCreds() : (openValue(cipher, instanceId, CREDS_KEY, sealedCreds) as AuthenticationCreds);

  const edgeKeys: SignalKeyStore = {
    async get(type, ids) {
      const wanted = ids.filter((id) => !absent.has(slotKey(type, id)));
      if (wanted.some((id) => inFlight.has(slotKey(type, id)))) await tail; // read our own writes
      const found: { [id: string]: SignalDataTypeMap[typeof type] } = {};
      for (let start = 0; start < wanted.length; start += MAX_KEYS_PER_GET) {
        const chunk = wanted.slice(start, start + MAX_KEYS_PER_GET);
        const { values } = await link.call("session.get", { keys: chunk.map((id) => slotKey(type, id)) });
        for (const id of chunk) {
          const key = slotKey(type, id);
          const sealed = values[key];
          if (sealed == null) {
            if (!inFlight.has(key)) absent.add(key);
            continue;
          }
          let value = openValue(cipher, instanceId, key, sealed);
          // The one key type that must be a protobuf object, not plain JSON.
          if (type === "app-state-sync-key") value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
          found[id] = value as SignalDataTypeMap[typeof type];
        }
      }
      return found;
    },
    async set(data: SignalDataSet) {
      const entries: Record<string, string | null> = {};
      for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
        for (const [id, value] of Object.entries(data[type] ?? {})) {
          const key = slotKey(type, id);
          entries[key] = value == null ? null : sealValue(cipher, instanceId, key, value);
        }
      }
      if (Object.keys(entries).length) await enqueueWrite(entries);
    },
    async clear() {
      await tail;
      await link.call("session.clear", {});
      absent.clear();
    },
  };

  const cache = new KeyCache();
  return {
    state: { creds, keys: makeCacheableSignalKeyStore(edgeKeys, logger, cache) },
    fresh,
    saveCreds: () => enqueueWrite({ [CREDS_KEY]: sealValue(cipher, instanceId, CREDS_KEY, creds) }),
    flush: () => tail.then(() => undefined),
    close: () => {
      closed = true;
      cache.close();
      absent.clear();
    },
  };
}

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
 *
 * Except during a send (`sending`): Baileys ratchets the chat's session while
 * encrypting and commits it before `sendMessage` resolves, and a
 * `session.set` of its own would cost the number's object a frame and a
 * storage commit per message. So the writes made while a send runs are held
 * (later writes of a key replacing earlier ones; reads see them) and ride on
 * the send's `message.send` answer, which the object stores in the answer's
 * own step. What that must keep:
 *   - order: the answer leaves after every earlier write was answered, and
 *     writes made after it wait until it has left;
 *   - a send that fails writes what it held with a plain `session.set` first;
 *   - durability: an answer can be lost with its link (the object restarted).
 *     Its entries stay "unconfirmed" until the reply to a call we made after
 *     the answer left: the object handles its link's frames in order, and its
 *     output gate holds every frame it sends after a storage write until that
 *     write committed, so such a reply proves the answer's writes are stored.
 *     When the link comes back with the lease still ours, unconfirmed entries
 *     are written again (plain `session.set`) before any other call;
 *   - a store that closed (socket ended, lease lost) drops them, as it drops
 *     every later write.
 */
import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  initAuthCreds,
  proto,
} from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import type { Params } from "../shared/protocol.ts";
import type { SessionCipher } from "./cipher.ts";
import type { EdgeLink } from "./edge-link.ts";
import { errorText } from "./errors.ts";
import { KeyCache, cachedKeyStore } from "./key-cache.ts";
import { ReadsOut } from "./reads-out.ts";

export const CREDS_KEY = "creds";
/** The edge accepts at most this many keys per session.get. */
const MAX_KEYS_PER_GET = 2_000;
/** Past this many keys awaiting confirmation, an empty session.get (a round trip, no write) confirms them. */
const MAX_UNCONFIRMED = 256;

/** Session writes as `session.set` carries them: sealed text per slot key, null deletes. */
export type SessionEntries = Record<string, string | null>;

export type SessionStoreOptions = {
  /** `onRenewed` (InstanceLink's): told when the link is back with the lease still ours, before calls that waited for it go out. */
  link: Pick<EdgeLink, "call"> & { onRenewed?(listener: () => void): () => void };
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
  /**
   * Runs one send with the session writes made meanwhile held for its answer
   * (`session`: to carry in it; undefined when there were none). A send that
   * throws has its writes sent by `session.set` before the error goes on.
   */
  sending<T>(send: () => Promise<T>): Promise<{ value: T; session: SessionEntries | undefined }>;
  /** Drops the key cache; later writes are ignored (queued ones still go out: see flush). */
  close(): void;
};

/** The sealed values of a map of writes, as `session.set` carries them. */
const sealedOf = (writes: ReadonlyMap<string, { sealed: string | null }>): SessionEntries => Object.fromEntries([...writes].map(([key, { sealed }]) => [key, sealed]));

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
  // Sends running, and the writes they hold (sealed for the edge, and as Baileys gave them, for reads).
  let sends = 0;
  let held = new Map<string, { sealed: string | null; value: unknown }>();
  // Keys an answer carried that the edge has not certainly stored, with the newest value we wrote and the answer's number.
  const unconfirmed = new Map<string, { sealed: string | null; answer: number }>();
  let answers = 0;
  // The last answer certainly handed to the link (it left, or was lost with it).
  let answersOut = 0;

  const track = (keys: string[], by: 1 | -1) => {
    for (const key of keys) {
      const n = (inFlight.get(key) ?? 0) + by;
      if (n === 0) inFlight.delete(key);
      else inFlight.set(key, n);
    }
  };
  // A call whose reply proves every answer that left before it was stored (see the top of this file).
  const confirming = async <M extends "session.get" | "session.set">(method: M, params: Params<M>) => {
    const covers = answersOut;
    const result = await link.call(method, params);
    for (const [key, entry] of unconfirmed) if (entry.answer <= covers) unconfirmed.delete(key);
    return result;
  };
  // Stored by a write of ours: nothing left to confirm for these keys, unless a newer value came meanwhile.
  const stored = (entries: SessionEntries) => {
    for (const key of Object.keys(entries)) if (unconfirmed.get(key)?.sealed === entries[key]) unconfirmed.delete(key);
  };
  // A read's "absent" is older than a write of the key made while it was out.
  const reads = new ReadsOut();
  // Chains one write behind the previous ones; the returned promise carries
  // this write's own outcome, while the chain itself never breaks.
  const enqueueWrite = (entries: SessionEntries, values?: Record<string, unknown>): Promise<void> => {
    if (closed) {
      // The socket this store served has ended (drain, logout, lost lease):
      // a late write could land after a session.clear or another holder's writes.
      logger?.debug({ entries: Object.keys(entries).length }, "session write after close dropped");
      return Promise.resolve();
    }
    const keys = Object.keys(entries);
    for (const key of keys) {
      if (entries[key] !== null) absent.delete(key);
      // Held ones too: a send's answer can leave before a read that was out when it wrote comes back "absent".
      reads.wrote(key);
    }
    if (sends > 0) {
      for (const key of keys) held.set(key, { sealed: entries[key]!, value: values?.[key] ?? null });
      return Promise.resolve();
    }
    // The newest value is what a rewrite of an unconfirmed key must carry.
    for (const key of keys) {
      const entry = unconfirmed.get(key);
      if (entry) entry.sealed = entries[key]!;
    }
    track(keys, 1);
    const write = tail.then(() => confirming("session.set", { entries })).then(() => stored(entries));
    tail = write.catch(() => undefined).then(() => track(keys, -1));
    return write;
  };
  // What the sends held so far, taken (the next writes start a new set).
  const takeHeld = (): SessionEntries | undefined => {
    if (!held.size) return undefined;
    const entries = sealedOf(held);
    held = new Map();
    return entries;
  };
  // Hands `entries` to a send's answer: after every earlier write was answered; later writes wait until it has left.
  const answer = async (entries: SessionEntries): Promise<void> => {
    const n = ++answers;
    const keys = Object.keys(entries);
    for (const key of keys) unconfirmed.set(key, { sealed: entries[key]!, answer: n });
    let left!: () => void;
    const earlier = tail;
    // Reads of these keys and later writes wait here: the edge must see the answer first.
    track(keys, 1);
    tail = earlier.then(() => new Promise<void>((resolve) => (left = resolve))).then(() => track(keys, -1));
    await earlier;
    // The answer is sent by the RPC peer in the microtasks after the send's handler returns, with no I/O
    // between: by the next turn of the event loop it has left (or failed with its link).
    setImmediate(() => {
      answersOut = Math.max(answersOut, n);
      left();
      // A number that only sends may make no other call for long: keep what waits for confirmation small.
      if (unconfirmed.size >= MAX_UNCONFIRMED && !closed) void confirming("session.get", { keys: [] }).catch(() => undefined);
    });
  };

  const unsubscribe = link.onRenewed?.(() => {
    // Called before any call that waited for the link: this write goes out first.
    if (closed || !unconfirmed.size) return;
    const entries = sealedOf(unconfirmed);
    logger?.info({ entries: unconfirmed.size }, "link back: writing session entries an answer may have lost");
    void confirming("session.set", { entries })
      .then(() => stored(entries))
      .catch((err: unknown) => logger?.warn({ err: String(err) }, "session entries not written again"));
  });

  const { values } = await link.call("session.get", { keys: [CREDS_KEY] });
  const sealedCreds = values[CREDS_KEY];
  const fresh = sealedCreds == null;
  const creds = fresh ? initAuthCreds() : (openValue(cipher, instanceId, CREDS_KEY, sealedCreds) as AuthenticationCreds);

  const edgeKeys: SignalKeyStore = {
    async get(type, ids) {
      const found: { [id: string]: SignalDataTypeMap[typeof type] } = {};
      // Writes a running send holds are the newest values (deleted: not there).
      const ours = ids.filter((id) => held.has(slotKey(type, id)));
      for (const id of ours) {
        const value = held.get(slotKey(type, id))!.value;
        if (value != null) found[id] = value as SignalDataTypeMap[typeof type];
      }
      const wanted = ids.filter((id) => !absent.has(slotKey(type, id)) && !held.has(slotKey(type, id)));
      if (wanted.some((id) => inFlight.has(slotKey(type, id)))) await tail; // read our own writes
      for (let start = 0; start < wanted.length; start += MAX_KEYS_PER_GET) {
        const chunk = wanted.slice(start, start + MAX_KEYS_PER_GET);
        const keys = chunk.map((id) => slotKey(type, id));
        reads.start(keys);
        try {
          const { values } = await confirming("session.get", { keys });
          chunk.forEach((id, i) => {
            const key = keys[i]!;
            const sealed = values[key];
            if (sealed == null) {
              // Absent until we write it: not if a write of ours is on its way, held, or was made while this read was out.
              if (!inFlight.has(key) && !held.has(key) && !reads.writtenSince(key)) absent.add(key);
              return;
            }
            let value = openValue(cipher, instanceId, key, sealed);
            // The one key type that must be a protobuf object, not plain JSON.
            if (type === "app-state-sync-key") value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
            found[id] = value as SignalDataTypeMap[typeof type];
          });
        } finally {
          reads.end(keys);
        }
      }
      return found;
    },
    async set(data: SignalDataSet) {
      const entries: SessionEntries = {};
      const values: Record<string, unknown> = {};
      for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
        for (const [id, value] of Object.entries(data[type] ?? {})) {
          const key = slotKey(type, id);
          entries[key] = value == null ? null : sealValue(cipher, instanceId, key, value);
          values[key] = value;
        }
      }
      if (!Object.keys(entries).length) return;
      const write = enqueueWrite(entries, values);
      // LID <-> phone pairs are WhatsApp's facts, not ratchet state: one that never lands is asked for again
      // (and the edge keeps its own copy, lid.mappings). Baileys writes them while it holds the socket's
      // decrypt lock (a new customer's first message), so it is not kept waiting for the edge's answer:
      // they still go out in order. See lid-prefetch.ts.
      if (Object.keys(data).every((type) => type === "lid-mapping")) {
        write.catch((err: unknown) => logger?.warn({ err: errorText(err) }, "LID mapping write failed: asked for again when needed"));
        return;
      }
      await write;
    },
    async clear() {
      await tail;
      await link.call("session.clear", {});
      absent.clear();
    },
  };

  const cache = new KeyCache();
  return {
    state: { creds, keys: cachedKeyStore(edgeKeys, cache) },
    fresh,
    saveCreds: () => enqueueWrite({ [CREDS_KEY]: sealValue(cipher, instanceId, CREDS_KEY, creds) }),
    flush: () => tail.then(() => undefined),
    async sending(send) {
      sends++;
      let value: Awaited<ReturnType<typeof send>>;
      try {
        value = await send();
      } catch (err) {
        sends = Math.max(0, sends - 1); // a close meanwhile set it to 0
        if (sends === 0) {
          const entries = takeHeld();
          // Failed or not, the ratchet may have moved: what it wrote goes to the edge before the error does.
          if (entries) await enqueueWrite(entries).catch((e: unknown) => logger?.warn({ err: String(e) }, "a failed send's session writes not stored"));
        }
        throw err;
      }
      // With another send still running, its writes so far ride on this answer too (they are held just the same).
      sends = Math.max(0, sends - 1);
      const session = takeHeld();
      if (session) await answer(session);
      return { value, session };
    },
    close: () => {
      // Writes made before the socket ended go out, as they always did; what an answer carried is dropped with it.
      if (closed) return;
      const entries = takeHeld();
      sends = 0;
      if (entries) void enqueueWrite(entries).catch(() => undefined);
      closed = true;
      unsubscribe?.();
      unconfirmed.clear();
      cache.close();
      absent.clear();
    },
  };
}

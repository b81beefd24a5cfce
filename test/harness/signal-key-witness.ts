/**
 * Test-only: records the secret keys of every Signal session libsignal opens
 * or closes in a process, so that a test can look for THOSE bytes in what the
 * process printed (libsignal 6.0.0 printed the whole session at both moments).
 *
 * In the test process (where the crabline peers run): `witnessSessionKeys`.
 * In a fleet process: `--import` this file with POMBO_TEST_SIGNAL_KEYS set to
 * a file, and each key is appended to it as a hex line.
 */
import { appendFileSync } from "node:fs";
import { createRequire } from "node:module";

type Chain = { chainKey?: { key?: Buffer } };
type Entry = { currentRatchet?: { rootKey?: Buffer; ephemeralKeyPair?: { privKey?: Buffer } }; _chains?: Record<string, Chain> };
type Hook = (this: unknown, session: Entry) => void;

// libsignal is CommonJS: Baileys and crabline get this same module (and prototype) from Node's cache.
const { SessionRecord } = createRequire(import.meta.url)("libsignal") as { SessionRecord: { prototype: Record<"openSession" | "closeSession", Hook> } };

/** The private parts of a session: root key, ratchet private key, chain keys. */
function secretsOf(session: Entry): Buffer[] {
  const chains = Object.values(session._chains ?? {}).map((c) => c.chainKey?.key);
  return [session.currentRatchet?.rootKey, session.currentRatchet?.ephemeralKeyPair?.privKey, ...chains].filter((k): k is Buffer => Buffer.isBuffer(k));
}

/** Calls `onKeys` with the secrets of each session as it is opened or closed; returns the undo. */
export function witnessSessionKeys(onKeys: (keys: Buffer[]) => void): () => void {
  const proto = SessionRecord.prototype;
  const originals = { openSession: proto.openSession, closeSession: proto.closeSession };
  for (const name of ["openSession", "closeSession"] as const) {
    const original = originals[name];
    proto[name] = function (this: unknown, session: Entry) {
      onKeys(secretsOf(session));
      return original.call(this, session);
    };
  }
  return () => Object.assign(proto, originals);
}

/** How a key can show in printed output: hex, base64, Node's `<Buffer a0 74 …>`, and JSON's byte array. */
export function renderingsOf(key: Buffer): string[] {
  const bytes = [...key];
  return [key.toString("hex"), key.toString("base64"), bytes.map((b) => b.toString(16).padStart(2, "0")).join(" "), bytes.join(",")];
}

const keyFile = process.env.POMBO_TEST_SIGNAL_KEYS;
if (keyFile) witnessSessionKeys((keys) => appendFileSync(keyFile, keys.map((k) => `${k.toString("hex")}\n`).join("")));

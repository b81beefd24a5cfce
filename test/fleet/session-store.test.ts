import { BufferJSON, type SignalDataTypeMap, initAuthCreds, proto } from "@whiskeysockets/baileys";
import { describe, expect, it } from "vitest";
import { CipherError, SessionCipher } from "../../fleet/cipher.ts";
import { openSessionStore } from "../../fleet/session-store.ts";
import { memoryEdge } from "./memory-edge.ts";

const cipher = new SessionCipher("test session key");
const instanceId = "inst_store";
const asJson = (value: unknown) => JSON.stringify(value, BufferJSON.replacer);

describe("session store", () => {
  it("starts with fresh creds when the edge has none, and they survive a save/load byte for byte", async () => {
    const edge = memoryEdge();
    const first = await openSessionStore({ link: edge.link, cipher, instanceId });
    expect(first.fresh).toBe(true);
    // What pairing leaves in the creds: identity, routing info (a Buffer), account.
    Object.assign(first.state.creds, {
      me: { id: "5511999990001:7@s.whatsapp.net", name: "Pombo", lid: "123456789:7@lid" },
      routingInfo: Buffer.from([8, 1, 8, 5]),
      account: { details: Buffer.from("details"), accountSignature: Buffer.from("sig") },
      registered: true,
    });
    await first.saveCreds();

    const second = await openSessionStore({ link: edge.link, cipher, instanceId });
    expect(second.fresh).toBe(false);
    expect(asJson(second.state.creds)).toBe(asJson(first.state.creds));
    expect(Buffer.isBuffer(second.state.creds.noiseKey.private)).toBe(true);
    expect(second.state.creds.registrationId).toBe(first.state.creds.registrationId);
  });

  it("stores only ciphertext on the edge", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    store.state.creds.me = { id: "5511999990001:7@s.whatsapp.net" };
    await store.saveCreds();
    await store.state.keys.set({ session: { "5511888880002.0": Buffer.from("ratchet state") } });
    expect(edge.entries.size).toBe(2);
    for (const value of edge.entries.values()) {
      expect(value).toMatch(/^v1\./);
      expect(value).not.toContain("5511");
    }
  });

  it("turns one keys.set into exactly one atomic session.set, deletions included", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    const preKey = { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) };
    await store.state.keys.set({ "pre-key": { "1": preKey, "2": preKey } });
    const before = edge.requests.filter((r) => r.method === "session.set").length;

    await store.state.keys.set({
      session: { "5511888880002.0": Buffer.from("a"), "5511888880003.0": Buffer.from("b") },
      "pre-key": { "1": null },
      "sender-key-memory": { "123@g.us": { "5511888880002:0@s.whatsapp.net": true } },
    });

    const sets = edge.requests.filter((r) => r.method === "session.set");
    expect(sets.length - before).toBe(1);
    const batch = (sets.at(-1)!.params as { entries: Record<string, string | null> }).entries;
    expect(Object.keys(batch).sort()).toEqual([
      "pre-key:1",
      "sender-key-memory:123@g.us",
      "session:5511888880002.0",
      "session:5511888880003.0",
    ]);
    expect(batch["pre-key:1"]).toBeNull();
    expect(edge.entries.has("pre-key:1")).toBe(false);
    expect(edge.entries.has("pre-key:2")).toBe(true);

    // A new store (cold cache) reads the same keys back from the edge.
    const reopened = await openSessionStore({ link: edge.link, cipher, instanceId });
    const sessions = await reopened.state.keys.get("session", ["5511888880002.0", "missing"]);
    expect(Buffer.from(sessions["5511888880002.0"] as Uint8Array).toString()).toBe("a");
    expect(sessions.missing).toBeUndefined();
    const preKeys = await reopened.state.keys.get("pre-key", ["2"]);
    expect(asJson(preKeys["2"])).toBe(asJson(preKey));
  });

  it("revives app-state-sync-key values as protobuf objects", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    const key = proto.Message.AppStateSyncKeyData.fromObject({
      keyData: Buffer.alloc(32, 7),
      fingerprint: { rawId: 1, currentIndex: 2, deviceIndexes: [0, 1] },
      timestamp: 1_700_000_000,
    });
    await store.state.keys.set({ "app-state-sync-key": { AAAAAMtb: key } });

    const reopened = await openSessionStore({ link: edge.link, cipher, instanceId });
    const got = await reopened.state.keys.get("app-state-sync-key", ["AAAAAMtb"]);
    const revived = got.AAAAAMtb as SignalDataTypeMap["app-state-sync-key"];
    expect(revived).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(Buffer.from(revived.keyData!)).toEqual(Buffer.alloc(32, 7));
    expect(revived.fingerprint?.deviceIndexes).toEqual([0, 1]);
  });

  it("refuses to start on creds it cannot decrypt instead of pairing afresh over them", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    await store.saveCreds();
    const sealedBefore = edge.entries.get("creds");
    await expect(
      openSessionStore({ link: edge.link, cipher: new SessionCipher("rotated by mistake"), instanceId }),
    ).rejects.toThrow(CipherError);
    expect(edge.entries.get("creds")).toBe(sealedBefore);
  });

  it("keeps one write in flight at a time, so a resent write can never overtake a later one", async () => {
    const edge = memoryEdge();
    let inFlight = 0;
    let maxInFlight = 0;
    // A slow link: each session.set takes 20 ms to be answered.
    const slowLink = {
      call: (async (method: "session.set", params: never) => {
        if (method !== "session.set") return edge.link.call(method, params);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        try {
          return await edge.link.call(method, params);
        } finally {
          inFlight--;
        }
      }) as typeof edge.link.call,
    };
    const store = await openSessionStore({ link: slowLink, cipher, instanceId });
    await Promise.all([
      store.state.keys.set({ session: { x: Buffer.from("1") } }),
      store.saveCreds(),
      store.state.keys.set({ session: { x: Buffer.from("3") } }),
    ]);
    expect(maxInFlight).toBe(1);
    expect(edge.requests.filter((r) => r.method === "session.set")).toHaveLength(3);
    const reopened = await openSessionStore({ link: edge.link, cipher, instanceId });
    const { x } = await reopened.state.keys.get("session", ["x"]);
    expect(Buffer.from(x as Uint8Array).toString()).toBe("3");
  });

  it("asks the edge once for a key it does not have, and sees it once written", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    const gets = () => edge.requests.filter((r) => r.method === "session.get").length;
    const before = gets();
    for (let i = 0; i < 3; i++) expect(await store.state.keys.get("tctoken", ["5511888880002@s.whatsapp.net"])).toEqual({});
    expect(gets() - before).toBe(1);
    await store.state.keys.set({ tctoken: { "5511888880002@s.whatsapp.net": { token: Buffer.from("t"), timestamp: "1" } } });
    const got = await store.state.keys.get("tctoken", ["5511888880002@s.whatsapp.net"]);
    expect(Buffer.from(got["5511888880002@s.whatsapp.net"]!.token).toString()).toBe("t");
    // A fresh store (another process, after a failover) asks the edge, which now has it.
    const next = await openSessionStore({ link: edge.link, cipher, instanceId });
    expect(Object.keys(await next.state.keys.get("tctoken", ["5511888880002@s.whatsapp.net"]))).toHaveLength(1);
  });
});

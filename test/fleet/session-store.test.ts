import { BufferJSON, type SignalDataTypeMap, initAuthCreds, proto } from "@whiskeysockets/baileys";
import { describe, expect, it, vi } from "vitest";
import { CipherError, SessionCipher } from "../../fleet/cipher.ts";
import { openSessionStore, openValue } from "../../fleet/session-store.ts";
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

describe("session store: a send's writes ride on its answer", () => {
  /** The memory edge's link, with the instance link's `onRenewed` (the test says when the link came back). */
  function renewableLink(edge: ReturnType<typeof memoryEdge>) {
    let listener: (() => void) | null = null;
    return {
      call: edge.link.call.bind(edge.link) as typeof edge.link.call,
      onRenewed: (l: () => void) => ((listener = l), () => (listener = null)),
      renew: () => listener?.(),
    };
  }
  const sets = (edge: ReturnType<typeof memoryEdge>) =>
    edge.requests.filter((r) => r.method === "session.set").map((r) => (r.params as { entries: Record<string, string | null> }).entries);
  const opened = (key: string, sealed: string | null | undefined) => Buffer.from(openValue(cipher, instanceId, key, sealed!) as Uint8Array).toString();
  const leaveTurn = () => new Promise((resolve) => setImmediate(resolve));

  it("sends no session.set while a send runs: reads see its writes, and the answer carries the newest value of each key (deletions too)", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    await store.state.keys.set({ "pre-key": { "7": { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } });
    const before = sets(edge).length;
    const { value, session } = await store.sending(async () => {
      await store.state.keys.set({ session: { "5511888880002.0": Buffer.from("step 1") } });
      await store.state.keys.set({ session: { "5511888880002.0": Buffer.from("step 2") }, "pre-key": { "7": null } });
      const seen = await store.state.keys.get("session", ["5511888880002.0"]);
      return Buffer.from(seen["5511888880002.0"] as Uint8Array).toString();
    });
    expect(value).toBe("step 2");
    expect(sets(edge).length - before).toBe(0);
    expect(Object.keys(session!).sort()).toEqual(["pre-key:7", "session:5511888880002.0"]);
    expect(opened("session:5511888880002.0", session!["session:5511888880002.0"])).toBe("step 2");
    expect(session!["pre-key:7"]).toBeNull();
  });

  it("hands the answer over only after earlier writes were answered, and holds later writes until it has left", async () => {
    const edge = memoryEdge();
    const order: string[] = [];
    const slowLink = {
      call: (async (method: "session.set", params: never) => {
        if (method === "session.set") {
          // Noted as the frame leaves; answered 30 ms later.
          order.push(`session.set ${Object.keys((params as { entries: object }).entries).join(",")}`);
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        return edge.link.call(method, params);
      }) as typeof edge.link.call,
    };
    const store = await openSessionStore({ link: slowLink, cipher, instanceId });
    const earlier = store.saveCreds(); // queued at once (a keys.set reaches the store a few microtasks later)
    const answered = store.sending(async () => store.state.keys.set({ session: { b: Buffer.from("the send's") } })).then(() => order.push("answer"));
    await answered;
    // The answer leaves in the microtasks after it was handed over: a write made now goes out after it.
    const later = store.saveCreds();
    queueMicrotask(() => order.push("answer sent"));
    await Promise.all([earlier, later]);
    expect(order).toEqual(["session.set creds", "answer", "answer sent", "session.set creds"]);
  });

  it("writes a failed send's writes by session.set before its error goes on", async () => {
    const edge = memoryEdge();
    const store = await openSessionStore({ link: edge.link, cipher, instanceId });
    const failed = store.sending(async () => {
      await store.state.keys.set({ session: { "5511888880002.0": Buffer.from("ratcheted, then refused") } });
      throw new Error("WhatsApp refused it");
    });
    await expect(failed).rejects.toThrow("WhatsApp refused it");
    expect(opened("session:5511888880002.0", edge.entries.get("session:5511888880002.0"))).toBe("ratcheted, then refused");
  });

  it("writes an answer's entries again, first, when the link comes back with the lease still ours, until a later reply confirms them", async () => {
    const edge = memoryEdge();
    const link = renewableLink(edge);
    const store = await openSessionStore({ link, cipher, instanceId });
    const { session } = await store.sending(async () => void (await store.state.keys.set({ session: { x: Buffer.from("answered") } })));
    await leaveTurn();
    // The answer was lost with its link (the object restarted): the edge never stored it.
    expect(edge.entries.has("session:x")).toBe(false);
    link.renew();
    await store.flush();
    await vi.waitFor(() => expect(edge.entries.get("session:x")).toBe(session!["session:x"]));
    expect(sets(edge).at(-1)).toEqual(session);

    // Another answer; then a reply to a call made after it left proves it stored: the next renewal writes nothing.
    await store.sending(async () => void (await store.state.keys.set({ session: { y: Buffer.from("answered too") } })));
    await leaveTurn();
    await store.state.keys.get("session", ["z"]);
    const count = sets(edge).length;
    link.renew();
    await leaveTurn();
    expect(sets(edge).length).toBe(count);
  });

  it("confirms what its answers carried with an empty session.get once many keys wait, so a number that only sends holds little", async () => {
    const edge = memoryEdge();
    const link = renewableLink(edge);
    const store = await openSessionStore({ link, cipher, instanceId });
    const gets = () => edge.requests.filter((r) => r.method === "session.get").length;
    const before = gets();
    const chats = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`55119${i}.0`, Buffer.from(`chat ${i}`)]));
    await store.sending(async () => void (await store.state.keys.set({ session: chats })));
    await vi.waitFor(() => expect(gets() - before).toBe(1));
    await leaveTurn();
    const count = sets(edge).length;
    link.renew();
    await leaveTurn();
    expect(sets(edge).length).toBe(count);
  });

  it("a send writing keys while a read of them is out (no socket-wide lock across the edge's answer): that read sees the send's values, and so does a read after the cache let them go", async () => {
    const edge = memoryEdge();
    const seed = await openSessionStore({ link: edge.link, cipher, instanceId });
    await seed.state.keys.set({ session: { y: Buffer.from("older y") } });
    // The edge reads x and y at once but its answer comes only when the test says so.
    let answerReads!: () => void;
    const gate = new Promise<void>((resolve) => (answerReads = resolve));
    const link = {
      call: (async (method: "session.get", params: never) => {
        const result = await edge.link.call(method, params);
        if (method === "session.get" && (params as { keys: string[] }).keys.includes("session:x")) await gate;
        return result;
      }) as typeof edge.link.call,
    };
    const store = await openSessionStore({ link, cipher, instanceId });
    const read = store.state.keys.get("session", ["x", "y"]);
    await leaveTurn();
    const { session } = await store.sending(async () => void (await store.state.keys.set({ session: { x: Buffer.from("new x"), y: Buffer.from("new y") } })));
    await leaveTurn(); // the answer has left; the object stores what it carried
    for (const [key, sealed] of Object.entries(session!)) edge.entries.set(key, sealed!);
    answerReads(); // with what the edge held when the read reached it: no x, the older y
    const text = (got: Record<string, unknown>) => Object.fromEntries(Object.entries(got).map(([id, v]) => [id, Buffer.from(v as Uint8Array).toString()]));
    expect(text(await read)).toEqual({ x: "new x", y: "new y" });
    // Minutes later the key cache has let them go: the store must ask the edge, not remember x as absent.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000);
      expect(text(await store.state.keys.get("session", ["x", "y"]))).toEqual({ x: "new x", y: "new y" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("drops unconfirmed entries once the store closed (the socket or the lease ended)", async () => {
    const edge = memoryEdge();
    const link = renewableLink(edge);
    const store = await openSessionStore({ link, cipher, instanceId });
    await store.sending(async () => void (await store.state.keys.set({ session: { x: Buffer.from("answered") } })));
    await leaveTurn();
    store.close();
    const count = sets(edge).length;
    link.renew();
    await leaveTurn();
    expect(sets(edge).length).toBe(count);
  });
});

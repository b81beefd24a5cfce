import type { SignalDataSet, SignalKeyStore } from "@whiskeysockets/baileys";
import { describe, expect, it } from "vitest";
import { KeyCache, cachedKeyStore } from "../../fleet/key-cache.ts";

/** A key store one round trip away: each read waits until `answer()` releases it. */
function slowStore() {
  const values = new Map<string, unknown>();
  const waiting: (() => void)[] = [];
  let readsOut = 0;
  let mostReadsOut = 0;
  const store: SignalKeyStore = {
    async get(type, ids) {
      readsOut++;
      mostReadsOut = Math.max(mostReadsOut, readsOut);
      // What the store holds when the read reaches it, answered later.
      const found = Object.fromEntries(ids.filter((id) => values.has(`${type}.${id}`)).map((id) => [id, values.get(`${type}.${id}`)]));
      await new Promise<void>((resolve) => waiting.push(resolve));
      readsOut--;
      return found as never;
    },
    async set(data: SignalDataSet) {
      for (const [type, byId] of Object.entries(data)) for (const [id, value] of Object.entries(byId ?? {})) values.set(`${type}.${id}`, value);
    },
  };
  return { store, values, answer: () => waiting.splice(0).forEach((resolve) => resolve()), mostReadsOut: () => mostReadsOut };
}

describe("the key cache in front of the edge's store", () => {
  it("reads that miss go to the store together: one customer's round trip does not hold another's (Baileys' cache locked the socket across it)", async () => {
    const { store, answer, mostReadsOut } = slowStore();
    const keys = cachedKeyStore(store, new KeyCache());
    const reads = [keys.get("lid-mapping", ["5511977700001"]), keys.get("lid-mapping", ["5511977700002"]), keys.get("tctoken", ["5511977700003@s.whatsapp.net"])];
    await new Promise((resolve) => setImmediate(resolve));
    expect(mostReadsOut()).toBe(3);
    answer();
    expect(await Promise.all(reads)).toEqual([{}, {}, {}]);
  });

  it("a key written while a read of it is out: that read and every later one see the write, never the older value the store answered", async () => {
    const { store, values, answer } = slowStore();
    values.set("lid-mapping.5511977700001", "111");
    const keys = cachedKeyStore(store, new KeyCache());
    const read = keys.get("lid-mapping", ["5511977700001"]);
    await new Promise((resolve) => setImmediate(resolve));
    await keys.set({ "lid-mapping": { "5511977700001": "222" } });
    answer();
    expect(await read).toEqual({ "5511977700001": "222" });
    // Served from the cache now (no read reaches the store), with the written value.
    expect(await keys.get("lid-mapping", ["5511977700001"])).toEqual({ "5511977700001": "222" });
  });
});

/**
 * The local DNS over HTTPS responder `npm start` and the e2e harness give
 * the edge: it answers what this machine's resolver answers (/etc/hosts
 * included), in the JSON form the edge's resolver client reads
 * (edge/services/dns.ts, run here in Node against it).
 */
import { lookup } from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResolveFailure, resolveAddresses } from "../../edge/services/dns.ts";
import { type LocalDoh, startLocalDoh } from "../../scripts/local-doh.ts";

let doh: LocalDoh;
beforeAll(async () => {
  doh = await startLocalDoh();
});
afterAll(() => doh.close());

describe("local DoH responder", () => {
  it("gives the edge's resolver the system resolver's addresses for a name from /etc/hosts", async () => {
    const system = (await lookup("localhost", { all: true })).map((a) => a.address).sort();
    expect(system.length).toBeGreaterThan(0);
    expect((await resolveAddresses({ POMBO_DOH_URL: doh.url }, "localhost")).sort()).toEqual(system);
  });

  it("answers in the DoH JSON form, and a name that does not exist makes the edge fail closed", async () => {
    const res = await fetch(`${doh.url}?name=localhost&type=A`);
    expect(res.headers.get("content-type")).toBe("application/dns-json");
    expect(await res.json()).toMatchObject({ Status: 0, Answer: [{ name: "localhost", type: 1, data: "127.0.0.1" }] });
    const missing = resolveAddresses({ POMBO_DOH_URL: doh.url }, `nowhere-${Date.now()}.invalid`);
    await expect(missing).rejects.toBeInstanceOf(ResolveFailure);
    await expect(missing).rejects.toMatchObject({ code: "no_address" });
  });

  it("a resolver that is not there is resolver_unavailable, not an empty answer", async () => {
    const gone = await startLocalDoh();
    await gone.close();
    await expect(resolveAddresses({ POMBO_DOH_URL: gone.url }, "localhost")).rejects.toMatchObject({ code: "resolver_unavailable" });
  });
});

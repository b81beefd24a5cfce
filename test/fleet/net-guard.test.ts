/**
 * The fleet's destination policy, against real local servers: a number's
 * proxy and the requests of a received file's download are dialed only to
 * checked addresses, and a loopback or private one only when the operator
 * allows private networks.
 */
import { once } from "node:events";
import http, { createServer as createHttpServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DestinationRefused, guardedDispatcher, pinnedLookup, publicAddresses } from "../../fleet/net-guard.ts";
import { proxyAgent } from "../../fleet/proxy.ts";

/** A TCP server on loopback that counts connections and closes them (a proxy that never answers). */
let tcp: net.Server;
let tcpPort = 0;
let dialed = 0;

beforeAll(async () => {
  tcp = net.createServer((socket) => {
    dialed++;
    socket.destroy();
  });
  tcp.listen(0, "127.0.0.1");
  await once(tcp, "listening");
  tcpPort = (tcp.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => tcp.close(() => resolve())));

describe("a number's proxy (proxy_url)", () => {
  it("is never dialed on a loopback or private address, in any scheme or spelling, and the refusal names the setting", async () => {
    const before = dialed;
    for (const url of [
      `http://127.0.0.1:${tcpPort}`,
      `https://user:secret@127.1:${tcpPort}`,
      `socks5://localhost:${tcpPort}`,
      `socks5h://localhost.:${tcpPort}`,
      `socks4://[::ffff:127.0.0.1]:${tcpPort}`,
      "http://10.1.2.3:3128",
      "socks5://[::1]:1080",
    ]) {
      const refused = proxyAgent(url, false);
      await expect(refused, url).rejects.toBeInstanceOf(DestinationRefused);
      await expect(refused, url).rejects.toThrow(/POMBO_ALLOW_PRIVATE_NETWORKS=true/);
      await expect(refused, url).rejects.not.toThrow(/secret/);
    }
    expect(dialed).toBe(before);
  });

  it("is dialed on loopback when the operator allows private networks", async () => {
    const before = dialed;
    const agent = await proxyAgent(`http://localhost:${tcpPort}`, true);
    await new Promise<void>((resolve) => {
      http.get({ host: "example.com", path: "/", agent }, () => resolve()).on("error", () => resolve());
    });
    expect(dialed).toBe(before + 1);
  });
});

describe("pinning", () => {
  it("a pinned lookup connects to the checked address whatever the name would say now", async () => {
    const before = dialed;
    const socket = net.connect({ host: "rebinding.invalid", port: tcpPort, lookup: pinnedLookup([{ address: "127.0.0.1", family: 4 }]) });
    await once(socket, "close");
    expect(dialed).toBe(before + 1);
  });

  it("every address of a name is checked: loopback names are refused, allowed when the operator says so", async () => {
    await expect(publicAddresses("localhost", false)).rejects.toThrow(/localhost is a local name/);
    await expect(publicAddresses("127.0.0.1", false)).rejects.toThrow(/127\.0\.0\.1; private, loopback/);
    expect((await publicAddresses("localhost", true)).map((a) => a.address)).toContain("127.0.0.1");
  });
});

describe("the download dispatcher", () => {
  it("checks every hop: a redirect to a host it does not allow is not followed", async () => {
    const hits: string[] = [];
    const server = createHttpServer((req, res) => {
      hits.push(`${req.headers.host} ${req.url}`);
      if (req.url === "/hop") return void res.writeHead(302, { location: `http://127.0.0.1:${port}/inside` }).end();
      res.end("secret");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    try {
      const dispatcher = guardedDispatcher(true, (origin) => (origin.hostname === "localhost" ? null : `${origin.hostname} is not allowed`));
      const fetched = fetch(`http://localhost:${port}/hop`, { dispatcher } as RequestInit);
      await expect(fetched).rejects.toMatchObject({ cause: expect.any(DestinationRefused) });
      expect(hits).toEqual([`localhost:${port} /hop`]);
      await dispatcher.close();
    } finally {
      server.close();
    }
  });
});

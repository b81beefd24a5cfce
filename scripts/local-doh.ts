/**
 * A DNS over HTTPS responder (JSON API, `application/dns-json`) answering
 * from this machine's resolver (`dns.lookup`: /etc/hosts, then DNS), for the
 * edge under `wrangler dev` (`npm start`, the e2e harness).
 *
 * The edge checks where a client's URL leads by asking a DoH endpoint
 * (edge/services/dns.ts). Deployed, that is a public resolver; locally,
 * workerd connects through the system resolver, so the check must ask the
 * same one, or an /etc/hosts alias would pass the check and reach loopback.
 * Served on 127.0.0.1 only, on a free port, inside the process that starts
 * the edge.
 */
import { lookup } from "node:dns/promises";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

const TYPES: Record<string, 4 | 6> = { "1": 4, A: 4, "28": 6, AAAA: 6 };
/** The system resolver says nothing of TTLs: answers are kept briefly. */
const TTL_S = 5;
const NOERROR = 0;
const SERVFAIL = 2;
const NXDOMAIN = 3;

export type LocalDoh = { url: string; close(): Promise<void> };

export async function startLocalDoh(): Promise<LocalDoh> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const name = url.searchParams.get("name")?.replace(/\.$/, "") ?? "";
    const family = TYPES[url.searchParams.get("type")?.toUpperCase() ?? "A"];
    if (url.pathname !== "/dns-query" || !name || !family) {
      res.writeHead(400, { "content-type": "text/plain" }).end("GET /dns-query?name=<name>&type=A|AAAA");
      return;
    }
    void answer(name, family).then((body) => res.writeHead(200, { "content-type": "application/dns-json" }).end(JSON.stringify(body)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function answer(name: string, family: 4 | 6) {
  const type = family === 4 ? 1 : 28;
  const question = [{ name, type }];
  try {
    const addresses = await lookup(name, { family, all: true });
    return { Status: NOERROR, Question: question, Answer: addresses.map(({ address }) => ({ name, type, TTL: TTL_S, data: address })) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No such name (or none of this family) is an answer; anything else is the resolver failing.
    const status = code === "ENOTFOUND" ? NXDOMAIN : code === "ENODATA" ? NOERROR : SERVFAIL;
    return { Status: status, Question: question, Answer: [] };
  }
}

import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * A customer's webhook endpoints, for the workerd suites: every fetch the
 * Worker makes goes through this function (Miniflare's outbound service,
 * which runs here in Node). Requests to `http://hooks.test/<name>` (and to
 * any other `*.test` host, logged as `<host>/<path>`) are recorded and
 * answered with the status set for <name> (200 unless set; a 3xx points
 * elsewhere, to show redirects are not followed, or where the test said):
 *   PUT http://hooks.test/__status/<name>  body "503" -> later answers are 503 (body "down")
 *                                          body "503 <text>" -> 503 with that body
 *                                          body "302 http://x.test/y" -> a redirect there
 *   GET http://hooks.test/__log/<name>     -> [{ method, headers, body, at }]
 * `http://doh.test/dns-query` is the edge's DNS over HTTPS resolver
 * (POMBO_DOH_URL), answering from `names` below; a test points a name
 * elsewhere with
 *   PUT http://doh.test/__name/<name>  body { a?: [...], aaaa?: [...], ttl?, status?, http? }
 * (`status` a DNS rcode such as 3 = NXDOMAIN, `http` an HTTP failure of the
 * resolver itself). Names it does not know do not exist.
 * Other hosts pass through to the network.
 */
type Hit = { method: string; headers: Record<string, string>; body: string; at: number };
const hits = new Map<string, Hit[]>();
const statuses = new Map<string, { status: number; location?: string; body?: string }>();

type DnsEntry = { a?: string[]; aaaa?: string[]; ttl?: number; status?: number; http?: number };
const PUBLIC = { a: ["93.184.215.14"], aaaa: ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"], ttl: 60 };
const names = new Map<string, DnsEntry>([
  ["hooks.test", PUBLIC],
  ["media.example.com", PUBLIC],
  ["cdn.example.com", PUBLIC],
]);

async function doh(request: Request, url: URL): Promise<Response> {
  if (url.pathname.startsWith("/__name/")) {
    names.set(decodeURIComponent(url.pathname.slice("/__name/".length)), await request.json());
    return new Response("ok");
  }
  const name = url.searchParams.get("name") ?? "";
  const type = Number(url.searchParams.get("type"));
  const entry = names.get(name) ?? { status: 3 };
  if (entry.http) return new Response("resolver down", { status: entry.http });
  const data = (type === 1 ? entry.a : type === 28 ? entry.aaaa : undefined) ?? [];
  const Answer = data.map((address) => ({ name, type, TTL: entry.ttl ?? 0, data: address }));
  return Response.json({ Status: entry.status ?? 0, Question: [{ name, type }], Answer }, { headers: { "content-type": "application/dns-json" } });
}

async function hooks(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname === "doh.test") return doh(request, url);
  if (!url.hostname.endsWith(".test")) {
    return fetch(url, { method: request.method, headers: request.headers, body: request.body, redirect: "manual", duplex: "half" } as RequestInit);
  }
  const [, first, ...rest] = url.pathname.split("/");
  if (url.hostname === "hooks.test" && first === "__status") {
    // "<status>", "<status> <location>" (a 3xx to that location) or "<status> <body>" (a failure saying this).
    const text = await request.text();
    const space = text.indexOf(" ");
    const status = Number(space < 0 ? text : text.slice(0, space));
    const extra = space < 0 ? undefined : text.slice(space + 1);
    statuses.set(rest.join("/"), status >= 300 && status < 400 ? { status, location: extra } : { status, body: extra });
    return new Response("ok");
  }
  if (url.hostname === "hooks.test" && first === "__log") return Response.json(hits.get(rest.join("/")) ?? []);
  // hooks.test/<name> is logged as <name>; any other *.test host as <host>/<path>.
  const name = url.hostname === "hooks.test" ? url.pathname.slice(1) : `${url.hostname}${url.pathname}`;
  const list = hits.get(name) ?? [];
  hits.set(name, list);
  list.push({ method: request.method, headers: Object.fromEntries(request.headers), body: await request.text(), at: Date.now() });
  const { status, location = "http://hooks.test/elsewhere", body = "down" } = statuses.get(name) ?? { status: 200 };
  if (status >= 300 && status < 400) return new Response(null, { status, headers: { location } });
  return new Response(status < 300 ? "ok" : body, { status });
}

export default defineProject(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: root("wrangler.toml") },
      miniflare: {
        outboundService: hooks,
        bindings: {
          POMBO_ADMIN_TOKEN: "test-admin-token",
          POMBO_FLEET_TOKEN: "test-fleet-token",
          POMBO_DATA_KEY: "test-data-key",
          POMBO_DOH_URL: "http://doh.test/dns-query",
          // Webhook retries after about 1, 2, 4... seconds, so a suite sees several.
          POMBO_WEBHOOK_RETRY_BASE_S: "1",
          TEST_MIGRATIONS: await readD1Migrations(root("migrations")),
        },
      },
    }),
  ],
  test: {
    name: "edge",
    // Correctness, not speed: 200 concurrent requests through workerd take seconds on a busy 2-core box.
    testTimeout: 20_000,
    include: [root("test/edge/**/*.test.ts")],
    setupFiles: [root("test/edge/setup.ts")],
  },
}));

import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * A customer's webhook endpoints, for the workerd suites: every fetch the
 * Worker makes goes through this function (Miniflare's outbound service,
 * which runs here in Node). Requests to `http://hooks.test/<name>` are
 * recorded and answered with the status set for <name> (200 unless set;
 * a 3xx points elsewhere, to show redirects are not followed):
 *   PUT http://hooks.test/__status/<name>  body "503" -> later answers are 503
 *   GET http://hooks.test/__log/<name>     -> [{ method, headers, body, at }]
 * Other hosts pass through to the network.
 */
type Hit = { method: string; headers: Record<string, string>; body: string; at: number };
const hits = new Map<string, Hit[]>();
const statuses = new Map<string, number>();

async function hooks(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname !== "hooks.test") {
    return fetch(url, { method: request.method, headers: request.headers, body: request.body, redirect: "manual", duplex: "half" } as RequestInit);
  }
  const [, first, ...rest] = url.pathname.split("/");
  if (first === "__status") {
    statuses.set(rest.join("/"), Number(await request.text()));
    return new Response("ok");
  }
  if (first === "__log") return Response.json(hits.get(rest.join("/")) ?? []);
  const name = url.pathname.slice(1);
  const list = hits.get(name) ?? [];
  hits.set(name, list);
  list.push({ method: request.method, headers: Object.fromEntries(request.headers), body: await request.text(), at: Date.now() });
  const status = statuses.get(name) ?? 200;
  if (status >= 300 && status < 400) return new Response(null, { status, headers: { location: "http://hooks.test/elsewhere" } });
  return new Response(status < 300 ? "ok" : "down", { status });
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

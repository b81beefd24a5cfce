/**
 * `npm run fleet:qr` as the operator runs it (the same node arguments as the
 * package.json script, so .env.example is loaded), against a small HTTP
 * server standing in for the edge's /fleet/instances/{id}/qr.
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const servers: Server[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function fakeEdge(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; port: number }> {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port };
}

const answer = (res: ServerResponse, status: number, body: unknown) => {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
};

/** `npm run fleet:qr -- <args>`: its script's command, with only `env` (and PATH) set. */
async function fleetQr(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(`${ROOT}/node_modules/.bin/node`, ["--import", "./scripts/load-env.ts", "fleet/cli.ts", "qr", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, POMBO_FLEET_TOKEN: "cli-token", ...env },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (err += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, out, err };
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at /m);

describe("fleet/cli.ts qr", () => {
  it("prints the QR as terminal art and exits 0 once the instance is connected", async () => {
    const views = [
      { state: "qr_pending", reason: null, qr: "2@pombo-test-qr,abc,def", qr_png: "data:image/png;base64,x" },
      { state: "connected", reason: null, qr: null, qr_png: null },
    ];
    const seen: { url: string; auth: string | undefined }[] = [];
    const edge = await fakeEdge((req, res) => {
      seen.push({ url: req.url ?? "", auth: req.headers.authorization });
      answer(res, 200, views[Math.min(seen.length - 1, views.length - 1)]);
    });
    const { code, out } = await fleetQr(["inst_qr"], { POMBO_EDGE_URL: edge.url });
    expect(code).toBe(0);
    expect(seen[0]).toEqual({ url: "/fleet/instances/inst_qr/qr", auth: "Bearer cli-token" });
    expect(out).toMatch(/[▀▄█]/); // the QR, drawn with half blocks
    expect(out).toContain("inst_qr: connected");
  });

  it("finds the edge on PORT as npm start runs it, with no POMBO_EDGE_URL (.env.example names none); POMBO_EDGE_URL, when set, wins over PORT", async () => {
    const edge = await fakeEdge((_req, res) => answer(res, 200, { state: "connected", reason: null, qr: null }));
    const byPort = await fleetQr(["inst_port"], { PORT: String(edge.port) });
    expect(byPort.err).toBe("");
    expect(byPort).toMatchObject({ code: 0, out: "inst_port: connected\n" });

    const explicit = await fleetQr(["inst_port"], { PORT: String(await freePort()), POMBO_EDGE_URL: `${edge.url}/` });
    expect(explicit).toMatchObject({ code: 0, out: "inst_port: connected\n" });
  });

  it("an edge nobody listens on: names the URL it tried, where that came from and the refusal, then gives up after --offline-timeout with exit 1 and no stack trace", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    const { code, out, err } = await fleetQr(["inst_gone", "--offline-timeout", "1"], { PORT: String(port) });
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toBe(
      `inst_gone: cannot reach the edge at ${url} (from PORT=${port}): connect ECONNREFUSED 127.0.0.1:${port}; retrying for up to 1 s\n` +
        `pombo fleet:qr: gave up: the edge at ${url} (from PORT=${port}) could not be reached for 1 s (connect ECONNREFUSED 127.0.0.1:${port}). ` +
        "Is npm start running there? --offline-timeout <seconds> waits longer.\n",
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("an edge that answers 503 for longer than --offline-timeout counts as unreachable: says so and gives up", async () => {
    const edge = await fakeEdge((_req, res) => answer(res, 503, { error: { code: "unavailable", message: "starting" } }));
    const { code, err } = await fleetQr(["inst_503", "--offline-timeout", "1"], { POMBO_EDGE_URL: edge.url });
    expect(code).toBe(1);
    expect(err).toContain(`inst_503: cannot reach the edge at ${edge.url} (from POMBO_EDGE_URL): it answered 503 Service Unavailable; retrying for up to 1 s\n`);
    expect(err).toContain(`pombo fleet:qr: gave up: the edge at ${edge.url} (from POMBO_EDGE_URL) could not be reached for 1 s`);
    noStackTrace(err);
  });

  it("an unknown instance (404) stops at once with exit 1, saying so and how to list the instances", async () => {
    const edge = await fakeEdge((_req, res) => answer(res, 404, { error: { code: "instance_not_found", message: "instance not found" } }));
    const { code, out, err } = await fleetQr(["inst_nope"], { POMBO_EDGE_URL: edge.url });
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toBe(`pombo fleet:qr: no instance inst_nope at ${edge.url}. List the instances: curl -s ${edge.url}/instances -H "Authorization: Bearer $POMBO_API_KEY"\n`);
  });

  it("a token the edge refuses (401) stops with exit 1 naming POMBO_FLEET_TOKEN", async () => {
    const edge = await fakeEdge((_req, res) => answer(res, 401, { error: { code: "unauthorized", message: "bad token" } }));
    const { code, err } = await fleetQr(["inst_tok"], { POMBO_EDGE_URL: edge.url });
    expect(code).toBe(1);
    expect(err).toBe(`pombo fleet:qr: the edge at ${edge.url} refused POMBO_FLEET_TOKEN (401): use the token the edge was given\n`);
  });

  it("a logged-out instance stops with exit 1 and the restart that gets a new QR; so does one whose pairing expires while it watches (only its first look may restart pairing)", async () => {
    let reason = "logged_out";
    const urls: string[] = [];
    const edge = await fakeEdge((req, res) => {
      urls.push(req.url ?? "");
      answer(res, 200, { state: "disconnected", reason, qr: null, qr_png: null });
    });
    const restart = `curl -s -X POST ${edge.url}/instances/inst_out/restart -H "Authorization: Bearer $POMBO_API_KEY"`;

    const loggedOut = await fleetQr(["inst_out"], { POMBO_EDGE_URL: edge.url });
    expect(loggedOut.code).toBe(1);
    expect(loggedOut.err).toBe(`pombo fleet:qr: inst_out is logged out of WhatsApp, so it shows no QR. For a new QR, restart it, then run this again:\n  ${restart}\n`);

    // The edge restarts an expired pairing on the first look; it expires again while the QRs go unscanned.
    const views = [
      { state: "qr_pending", reason: null, qr: "2@first,abc", qr_png: null },
      { state: "qr_pending", reason: null, qr: "2@second,abc", qr_png: null },
      { state: "disconnected", reason: "pairing_expired", qr: null, qr_png: null },
    ];
    urls.length = 0;
    const watching = await fakeEdge((req, res) => {
      urls.push(req.url ?? "");
      answer(res, 200, views[Math.min(urls.length - 1, views.length - 1)]);
    });
    const expired = await fleetQr(["inst_out"], { POMBO_EDGE_URL: watching.url });
    expect(expired.code).toBe(1);
    expect(expired.out.match(/Scan with WhatsApp/g)).toHaveLength(2);
    expect(expired.err).toBe(
      `pombo fleet:qr: inst_out: pairing expired (nobody scanned its QRs). For a new QR, run this again (it starts pairing again), or:\n  ${restart.replaceAll(edge.url, watching.url)}\n`,
    );
    expect(urls).toEqual(["/fleet/instances/inst_out/qr", "/fleet/instances/inst_out/qr?restart=false", "/fleet/instances/inst_out/qr?restart=false"]);
  });

  it("a bad --offline-timeout or a missing instance id is a usage error (exit 2)", async () => {
    const bad = await fleetQr(["inst_x", "--offline-timeout", "soon"], {});
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('pombo fleet:qr: --offline-timeout must be a number of seconds above 0, got "soon"\nusage: npm run fleet:qr -- <instance_id> [--offline-timeout <seconds>]\n');
    const none = await fleetQr([], {});
    expect(none).toMatchObject({ code: 2, err: "usage: npm run fleet:qr -- <instance_id> [--offline-timeout <seconds>]\n" });
  });
});

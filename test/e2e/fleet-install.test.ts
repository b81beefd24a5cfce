/**
 * The fleet image's contents, without a container engine: the fleet is
 * installed into a clean folder as the Dockerfile installs it (the files it
 * copies, the RUN lines of its install stage: production dependencies only,
 * Baileys and libsignal patched), started there with the image's CMD and ENV on the
 * project's Node 24 (the image's Node), and connected to a local edge and a
 * WhatsApp-protocol peer. The image itself is not built here (no Docker
 * engine on this machine); its health check and stop signal are exercised
 * against the process instead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Fleet } from "../harness/fleet.ts";
import { type ImageRecipe, installLikeImage, readImageRecipe } from "../harness/image-recipe.ts";
import { freePort } from "../harness/processes.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

/** Development tools the image must not carry (each a devDependency nothing in production needs). */
const DEV_TOOLS = ["wrangler", "vitest", "@openclaw/crabline", "node", "typescript", "esbuild", "drizzle-kit", "playwright-core", "patch-package"];
/** `docker stop`'s default wait before SIGKILL; the Dockerfile sets no other. */
const DOCKER_STOP_TIMEOUT_MS = 10_000;

describe("e2e: the fleet installed as its image installs it (production dependencies only, clean folder)", () => {
  const recipe: ImageRecipe = readImageRecipe();
  let dir: string;
  let metricsPort: number;
  let fleet: Fleet;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "pombo-fleet-image-"));
    const t0 = Date.now();
    await installLikeImage(recipe, dir);
    console.log(`installed as the image does in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${recipe.installRuns.join(" && ")}`);
  }, 300_000);
  const stack = useStack("fleet-install", 1);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The image's HEALTHCHECK command, run against the process (its `node` is this Node 24). */
  const healthcheck = () => {
    expect(recipe.healthcheck[0]).toBe("node");
    return spawnSync(process.execPath, recipe.healthcheck.slice(1), {
      cwd: dir,
      env: { ...process.env, ...recipe.env, POMBO_METRICS_PORT: String(metricsPort) },
      timeout: 10_000,
    }).status;
  };

  it("the folder holds the fleet, its production dependencies with Baileys and libsignal patched, and no development tools", () => {
    for (const src of ["fleet/main.ts", "shared/protocol.ts", "package.json", "node_modules/@whiskeysockets/baileys/package.json"]) {
      expect(existsSync(path.join(dir, src)), src).toBe(true);
    }
    for (const tool of DEV_TOOLS) expect(existsSync(path.join(dir, "node_modules", tool)), `node_modules/${tool}`).toBe(false);
    // The patch that makes Baileys wait for the spool before acknowledging a message (README "What survives what").
    const recv = readFileSync(path.join(dir, "node_modules/@whiskeysockets/baileys/lib/Socket/messages-recv.js"), "utf8");
    expect(recv).toContain("beforeMessageAck");
    // The patch that keeps Signal session keys out of the log: libsignal says "Closing session" without the session.
    const sessionRecord = readFileSync(path.join(dir, "node_modules/libsignal/src/session_record.js"), "utf8");
    expect(sessionRecord).toContain('console.info("Closing session");');
    // Not a copy of the repo: nothing beyond what the Dockerfile copies.
    for (const absent of ["edge", "test", "scripts", "console", ".env.example", "wrangler.toml"]) {
      expect(existsSync(path.join(dir, absent)), absent).toBe(false);
    }
  });

  it("started there with the image's CMD and ENV on Node 24, a number connects, sends and receives, and the health check passes", async () => {
    expect(process.versions.node.split(".")[0]).toBe("24");
    expect(recipe.cmd[0]).toBe("node");
    expect(recipe.user).not.toBeNull();
    expect(recipe.user).not.toBe("root");
    metricsPort = await freePort();
    const dataDir = path.join(dir, "spool");
    fleet = stack.fleet({
      app: { cwd: dir, args: recipe.cmd.slice(1) },
      dataDir,
      env: { ...recipe.env, POMBO_FLEET_DATA_DIR: dataDir, POMBO_METRICS_PORT: String(metricsPort) },
    });
    // The process runs the clean folder's fleet, not this repo's.
    expect(readlinkSync(`/proc/${fleet.pid}/cwd`)).toBe(dir);

    const [instance] = await stack.connectNumbers(1, { timeoutMs: 60_000, fleetId: fleet.fleetId });
    const peer = stack.peers.peers[0]!;
    await waitFor(() => healthcheck() === 0, 15_000, { what: "the image's health check to pass" });
    // A figure for README "Run the fleet", not a bound: the production install's process with one number.
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${fleet.pid}/status`, "utf8"))?.[1];
    console.log(`production install, 1 connected number: RSS ${(Number(rss) / 1024).toFixed(1)} MB`);

    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
    const customer = "5511977700001";
    stack.peers.directory.register(customer);
    const accepted = await stack.api.call<{ id: string }>(
      "POST",
      "/messages/text",
      { to: `${customer}@s.whatsapp.net`, body: "Sent from the production install", instance_id: instance!.id },
      202,
    );
    const sent = await waitFor(
      async () => {
        const m = await stack.api.call<{ status: string; wa_message_id: string }>("GET", `/messages/${accepted.id}`);
        return m.status === "sent" ? m : null;
      },
      20_000,
      { what: "the message sent" },
    );
    await waitFor(() => peer.accepted().some((m) => m.id === sent.wa_message_id), 5_000, { what: "the peer to get the message" });

    // Received: through the spool on disk (node:sqlite) and the patched acknowledgement.
    const sender = "5511977700002";
    await peer.inject({ chatJid: `${sender}@s.whatsapp.net`, senderJid: `${sender}@s.whatsapp.net`, text: "Oi da produção", pushName: "Ana" });
    await waitFor(
      async () => {
        const page = await stack.api.call<{ data: { body: string | null }[] }>("GET", `/conversations/${sender}@s.whatsapp.net/messages`);
        return page.data.some((m) => m.body === "Oi da produção");
      },
      20_000,
      { what: "the received message stored at the edge" },
    );
  });

  it("SIGTERM drains and exits 0 within docker stop's timeout; the health check then fails", async () => {
    expect(fleet?.alive()).toBe(true);
    const t0 = Date.now();
    const code = await fleet.stop(DOCKER_STOP_TIMEOUT_MS + 5_000);
    const took = Date.now() - t0;
    console.log(`SIGTERM to exit: ${took} ms`);
    expect(code).toBe(0);
    expect(took).toBeLessThan(DOCKER_STOP_TIMEOUT_MS);
    expect(readFileSync(fleet.logPath, "utf8")).toContain('"msg":"drained"');
    expect(healthcheck()).not.toBe(0);
  });
});

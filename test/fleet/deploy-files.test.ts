/**
 * The ways to run the fleet as a service (Dockerfile, compose.yaml, the
 * systemd unit, the Kubernetes manifests) agree with the fleet and with each
 * other: each stops it with SIGTERM and waits longer than its drain may take
 * before killing it, and probes and mounts what the image serves and keeps.
 * (No container engine or cluster here: test/e2e/fleet-install.test.ts runs
 * the image's install and command; this reads the files.)
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DRAIN_DEADLINE_MS } from "../../fleet/main.ts";
import { readImageRecipe } from "../harness/image-recipe.ts";
import { ROOT } from "../harness/processes.ts";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
/** The one value of `key: value` (YAML) or `Key=value` (unit file) in `text`. */
const valueOf = (text: string, key: string, sep: ":" | "=") => {
  const found = [...text.matchAll(new RegExp(`^\\s*${key}${sep}\\s*"?([^"#\\n]+?)"?\\s*(?:#.*)?$`, "gm"))].map((m) => m[1]!);
  expect(found, `${key} in ${text.slice(0, 40)}...`).toHaveLength(1);
  return found[0]!;
};
const seconds = (text: string) => {
  const m = /^(\d+)s?$/.exec(text.trim());
  if (!m) throw new Error(`not a number of seconds: ${text}`);
  return Number(m[1]);
};
/** Time a drain may take, in seconds, plus a margin for the process to exit and the signal to arrive. */
const DRAIN_S = DRAIN_DEADLINE_MS / 1000 + 2;
/** `docker stop` waits this long before SIGKILL; the Dockerfile cannot change it (compose.yaml does). */
const DOCKER_STOP_DEFAULT_S = 10;

describe("deploy files: the stop timeouts leave room for the fleet's drain and agree with the image", () => {
  const recipe = readImageRecipe();
  const dockerfile = read("Dockerfile");
  const dataDir = recipe.env.POMBO_FLEET_DATA_DIR!;
  const metricsPort = recipe.env.POMBO_METRICS_PORT!;

  it("Dockerfile: SIGTERM within docker stop's default wait, a non-root user, health from the metrics port it sets", () => {
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(DOCKER_STOP_DEFAULT_S).toBeGreaterThanOrEqual(DRAIN_S);
    expect(recipe.user).toBeTruthy();
    expect(recipe.user).not.toMatch(/^(root|0)(:|$)/);
    expect(metricsPort).toMatch(/^\d+$/);
    expect(recipe.healthcheck.join(" ")).toContain("process.env.POMBO_METRICS_PORT + '/health'");
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${metricsPort}$`, "m"));
    expect(dockerfile).toMatch(new RegExp(`^VOLUME ${path.dirname(dataDir)}$`, "m"));
  });

  it(".dockerignore lets in every file the Dockerfile copies, and nothing else", () => {
    const lines = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(lines[0]).toBe("*");
    const allowed = lines.slice(1).map((l) => l.replace(/^!/, "").replace(/\/$/, ""));
    const copied = [...new Set(recipe.copies.flatMap((c) => c.sources).map((s) => s.split("/")[0]!))];
    expect(allowed.sort()).toEqual(copied.sort());
  });

  it("compose.yaml: SIGTERM, a grace period longer than the drain, the spool on a volume", () => {
    const compose = read("compose.yaml");
    expect(valueOf(compose, "stop_signal", ":")).toBe("SIGTERM");
    expect(seconds(valueOf(compose, "stop_grace_period", ":"))).toBeGreaterThanOrEqual(DRAIN_S);
    expect(compose).toMatch(new RegExp(`^\\s*- spool:${path.dirname(dataDir)}$`, "m"));
  });

  it("systemd unit: SIGTERM, TimeoutStopSec longer than the drain, the spool in its state directory", () => {
    const unit = read("deploy/systemd/pombo-fleet.service");
    expect(valueOf(unit, "KillSignal", "=")).toBe("SIGTERM");
    expect(seconds(valueOf(unit, "TimeoutStopSec", "="))).toBeGreaterThanOrEqual(DRAIN_S);
    expect(unit).toMatch(new RegExp(`^Environment=POMBO_FLEET_DATA_DIR=/var/lib/${valueOf(unit, "StateDirectory", "=")}$`, "m"));
  });

  it("Kubernetes: the grace period covers preStop and the drain; probes and mounts match the image", () => {
    const deployment = read("deploy/k8s/deployment.yaml");
    const preStop = /command: \["sleep", "(\d+)"\]/.exec(deployment);
    expect(preStop).not.toBeNull();
    expect(seconds(valueOf(deployment, "terminationGracePeriodSeconds", ":"))).toBeGreaterThanOrEqual(Number(preStop![1]) + DRAIN_S);
    expect(valueOf(deployment, "containerPort", ":")).toBe(metricsPort);
    expect(deployment).toMatch(/readinessProbe:\s+httpGet:\s+path: \/health\s+port: metrics/);
    expect(deployment).toMatch(new RegExp(`- name: spool\\s+mountPath: ${path.dirname(dataDir)}\\n`));
  });
});

/**
 * GET /admin/metrics in workerd (real D1, objects and queue): the
 * operator's Prometheus scrape, read back with a Prometheus text parser.
 * Each test looks only at its own project's labels (the file shares D1).
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { publish } from "../../edge/services/events.ts";
import { parseScrape, sampleOf } from "../shared/prometheus-text.ts";
import { disconnectedEvent } from "./event-fixtures.ts";
import { ADMIN, type FleetSocket, call, connectInstance, newInstance, newProject, noPacing, resetDirectory, waitFor } from "./helpers.ts";

afterEach(resetDirectory);

async function scrape() {
  const res = await call("/admin/metrics", { token: ADMIN });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseScrape(res.json as string);
}

/** The fleet reports these statuses; returns once the edge has applied them all. */
async function report(fleet: FleetSocket, statuses: object[]) {
  for (const status of statuses) fleet.event("status", status);
  await fleet.request("session.get", { keys: [] });
}

describe("GET /admin/metrics", () => {
  it("asks for the admin token: 401 without it and with a project's key", async () => {
    const { api_key: key } = await newProject();
    expect((await call("/admin/metrics")).status).toBe(401);
    expect((await call("/admin/metrics", { token: key })).status).toBe(401);
    expect((await call("/admin/metrics", { token: ADMIN })).status).toBe(200);
  });

  it("shows numbers by state and each number's health as the numbers reported them", async () => {
    const { id: projectId, api_key: key } = await newProject();
    const dropped = await newInstance(key, "dropped");
    const idle = await newInstance(key, "idle");
    const fleet = await connectInstance(dropped.id, "fleet-metrics");
    expect((await fleet.next()).event).toBe("lease.granted");
    // Connected once, then WhatsApp closed it: a drop that costs health.
    await report(fleet, [
      { state: "connected", jid: "5511900000042:7@s.whatsapp.net" },
      { state: "disconnected", reason: "transient", close_code: 428 },
    ]);
    const health = (await call(`/instances/${dropped.id}`, { token: key })).json.health;
    expect(health).toBeLessThan(100);

    const metrics = await scrape();
    expect(metrics.get("pombo_instances")?.type).toBe("GAUGE");
    const byState = (state: string) => sampleOf(metrics, "pombo_instances", { project_id: projectId, state });
    expect({ disconnected: byState("disconnected"), connecting: byState("connecting"), connected: byState("connected"), qr: byState("qr_pending") }).toEqual({
      disconnected: 1,
      connecting: 1,
      connected: 0,
      qr: 0,
    });
    expect(sampleOf(metrics, "pombo_instance_health", { instance_id: dropped.id, project_id: projectId })).toBe(health);
    expect(sampleOf(metrics, "pombo_instance_health", { instance_id: idle.id, project_id: projectId })).toBe(100);
  });

  it("counts a number's outbound queue: a message accepted while no fleet runs it", async () => {
    const { id: projectId, api_key: key } = await newProject();
    await noPacing(key);
    const waiting = await newInstance(key, "waiting");
    const other = await newInstance(key, "other");
    const res = await call("/messages/text", { method: "POST", token: key, body: { to: "5511988887777@s.whatsapp.net", body: "later", instance_id: waiting.id } });
    expect(res.status).toBe(202);

    const metrics = await scrape();
    expect(sampleOf(metrics, "pombo_instance_outbound_queued", { instance_id: waiting.id, project_id: projectId })).toBe(1);
    expect(sampleOf(metrics, "pombo_instance_outbound_queued", { instance_id: other.id, project_id: projectId })).toBe(0);
  });

  it("counts an undelivered webhook delivery in the backlog, and the project's events per type", async () => {
    const { id: projectId, api_key: key } = await newProject();
    const name = `down-${crypto.randomUUID().slice(0, 8)}`;
    await fetch(`http://hooks.test/__status/${name}`, { method: "PUT", body: "503" });
    const hook = await call("/webhooks", { method: "POST", token: key, body: { url: `http://hooks.test/${name}` } });
    expect(hook.status).toBe(201);
    await publish(env, projectId, disconnectedEvent("i-1"), disconnectedEvent("i-2"));
    // Their first attempts failed (a delivery is logged from its first): the deliveries wait for a retry.
    await waitFor(
      async () => {
        const logged = (await call(`/webhooks/${hook.json.id}/deliveries`, { token: key })).json.data as any[];
        return logged.length === 2 && logged.every((d) => d.attempts >= 1);
      },
      5_000,
      "first attempts",
    );

    const metrics = await scrape();
    const open = (status: string) => sampleOf(metrics, "pombo_webhook_backlog", { project_id: projectId, status }) ?? 0;
    expect(open("pending") + open("retrying")).toBe(2);
    expect(metrics.get("pombo_events_total")?.type).toBe("COUNTER");
    expect(sampleOf(metrics, "pombo_events_total", { project_id: projectId, type: "instance.disconnected" })).toBe(2);
  });
});

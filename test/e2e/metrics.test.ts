/**
 * The operator's metrics against the real edge (wrangler dev), a real fleet
 * process and a WhatsApp-protocol peer: the fleet's POMBO_METRICS_PORT and
 * the edge's /admin/metrics and /health agree on one connected number.
 * Both scrapes are read with a Prometheus text parser.
 */
import { describe, expect, it } from "vitest";
import { freePort } from "../harness/processes.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";
import { parseScrape, sampleOf } from "../shared/prometheus-text.ts";

describe("e2e: metrics", () => {
  const stack = useStack("metrics", 1);

  it("a connected number shows as 1 open socket on the fleet's metrics port, and as connected with its health on the edge's", async () => {
    const port = await freePort();
    const fleetMetrics = `http://127.0.0.1:${port}`;
    const fleet = stack.fleet({ env: { POMBO_METRICS_PORT: String(port) } });
    const [number] = await stack.connectNumbers(1, { timeoutMs: 30_000, fleetId: fleet.fleetId });

    let fleetScrape = parseScrape("");
    await waitFor(
      async () => {
        fleetScrape = parseScrape(await (await fetch(`${fleetMetrics}/metrics`)).text());
        return sampleOf(fleetScrape, "pombo_fleet_open_sockets") === 1;
      },
      10_000,
      { what: "1 open socket on the fleet's metrics" },
    );
    expect(sampleOf(fleetScrape, "pombo_fleet_numbers")).toBe(1);
    expect(sampleOf(fleetScrape, "pombo_fleet_edge_linked")).toBe(1);
    expect((await fetch(`${fleetMetrics}/health`)).status).toBe(200);

    const res = await fetch(`${stack.edge.url}/admin/metrics`, { headers: { authorization: `Bearer ${stack.edge.adminToken}` } });
    expect(res.status).toBe(200);
    const edgeScrape = parseScrape(await res.text());
    expect(sampleOf(edgeScrape, "pombo_instances", { project_id: stack.projectId, state: "connected" })).toBe(1);
    expect(sampleOf(edgeScrape, "pombo_instance_health", { instance_id: number!.id, project_id: stack.projectId })).toBe(100);
    expect(sampleOf(edgeScrape, "pombo_fleet_processes")).toBe(1);

    const health = await fetch(`${stack.edge.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, configured: true, fleets: 1, connected_numbers: 1 });
  });
});

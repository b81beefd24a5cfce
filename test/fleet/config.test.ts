import { DEFAULT_CONNECTION_CONFIG } from "@whiskeysockets/baileys";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, waUrlFor } from "../../fleet/config.ts";

const required = { POMBO_FLEET_TOKEN: "t", POMBO_SESSION_KEY: "k" };

describe("fleet config", () => {
  it("needs the fleet token and the session key", () => {
    expect(() => loadConfig({ POMBO_SESSION_KEY: "k" })).toThrow(ConfigError);
    expect(() => loadConfig({ POMBO_FLEET_TOKEN: "t" })).toThrow(ConfigError);
  });

  it("defaults: local edge, Baileys' bundled WA version, no capacity limit, warn logs, init queries on, private networks refused, a unique fleet id", () => {
    const a = loadConfig(required, false);
    const b = loadConfig(required);
    expect(a).toMatchObject({ edgeUrl: "http://127.0.0.1:8787", waUrl: null, capacity: 0, logLevel: "warn", logFormat: "json", waInitQueries: true });
    expect(loadConfig(required, true).logFormat).toBe("text"); // a person at a terminal
    expect(a).toMatchObject({ waSilenceMs: 45_000, qrLimit: 30 });
    expect(a).toMatchObject({ allowPrivateNetworks: false });
    expect(a).toMatchObject({ metricsPort: null, metricsHost: "127.0.0.1" });
    expect(a.waVersion).toEqual(DEFAULT_CONNECTION_CONFIG.version);
    expect(a.fleetId).toContain(String(process.pid));
    expect(a.fleetId).not.toBe(b.fleetId);
  });

  it("without POMBO_EDGE_URL, the edge is the local one on PORT, as npm start runs it; POMBO_EDGE_URL wins", () => {
    expect(loadConfig({ ...required, PORT: "9123" }).edgeUrl).toBe("http://127.0.0.1:9123");
    expect(loadConfig({ ...required, PORT: "9123", POMBO_EDGE_URL: "http://edge.lan:80/" }).edgeUrl).toBe("http://edge.lan:80");
    expect(() => loadConfig({ ...required, PORT: "eighty" })).toThrow(/PORT must be a port number, got "eighty"/);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      ...required,
      POMBO_EDGE_URL: "https://edge.example.com/",
      POMBO_WA_URL: "ws://127.0.0.1:9000/wa/{instance_id}",
      POMBO_WA_VERSION: "2.3000.1043857760",
      POMBO_FLEET_ID: "fleet-a",
      POMBO_FLEET_CAPACITY: "100",
      POMBO_LOG_LEVEL: "info",
      POMBO_LOG_FORMAT: "text",
      POMBO_WA_INIT_QUERIES: "false",
      POMBO_WA_SILENCE_MS: "20000",
      POMBO_QR_LIMIT: "5",
      POMBO_ALLOW_PRIVATE_NETWORKS: "true",
      POMBO_METRICS_PORT: "9464",
      POMBO_METRICS_HOST: "0.0.0.0",
    });
    expect(config).toMatchObject({
      edgeUrl: "https://edge.example.com",
      waVersion: [2, 3000, 1043857760],
      fleetId: "fleet-a",
      capacity: 100,
      logLevel: "info",
      logFormat: "text",
      waInitQueries: false,
      waSilenceMs: 20_000,
      qrLimit: 5,
      allowPrivateNetworks: true,
      metricsPort: 9464,
      metricsHost: "0.0.0.0",
    });
    expect(waUrlFor(config, "inst_42")).toBe("ws://127.0.0.1:9000/wa/inst_42");
    expect(waUrlFor(loadConfig(required), "inst_42")).toBeUndefined();
  });

  it("rejects malformed values instead of guessing", () => {
    expect(() => loadConfig({ ...required, POMBO_WA_VERSION: "2.3000" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...required, POMBO_FLEET_CAPACITY: "-1" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...required, POMBO_WA_INIT_QUERIES: "maybe" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...required, POMBO_LOG_LEVEL: "loud" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...required, POMBO_WA_SILENCE_MS: "500" })).toThrow(/POMBO_WA_SILENCE_MS/);
    expect(() => loadConfig({ ...required, POMBO_QR_LIMIT: "0" })).toThrow(/POMBO_QR_LIMIT/);
    for (const port of ["0", "70000", "http"]) expect(() => loadConfig({ ...required, POMBO_METRICS_PORT: port })).toThrow(/POMBO_METRICS_PORT/);
    expect(() => loadConfig({ ...required, POMBO_LOG_FORMAT: "xml" })).toThrow(/POMBO_LOG_FORMAT/);
  });
});

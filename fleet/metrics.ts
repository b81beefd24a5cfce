/**
 * One fleet process's metrics, for Prometheus, and its health for container
 * checks: `GET /metrics` and `GET /health` on POMBO_METRICS_PORT (off when
 * unset), bound to 127.0.0.1 unless POMBO_METRICS_HOST says otherwise.
 *
 * prom-client keeps the registry: one per process (per Fleet, so tests can
 * run several), with its default process metrics (`process_*` memory and
 * CPU, `nodejs_*` event loop and heap). What is a count of something the
 * fleet holds (sockets open, spool rows) is read when scraped; what happens
 * (a reconnect, a send) is counted where it happens.
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { MethodHandlers } from "../shared/rpc.ts";

/** What the process holds now, read at each scrape. */
export type FleetFacts = {
  /** Numbers whose WhatsApp socket is open (connected). */
  openSockets(): number;
  /** Numbers this process runs, whatever their state. */
  numbers(): number;
  /** Received messages in the spool that the edge has not stored yet. */
  spoolRows(): number;
  /** Whether the link to the edge's directory is up. */
  linked(): boolean;
};

/** What a number's connection reports: a reconnect after its socket closed with this code. */
export type ReconnectCounter = { reconnecting(closeCode: number | null): void };

export class FleetMetrics implements ReconnectCounter {
  readonly registry = new Registry();
  readonly facts: FleetFacts;
  readonly #reconnects: Counter<"close_code">;
  readonly #sendsInFlight: Gauge;

  constructor(facts: FleetFacts) {
    this.facts = facts;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "pombo_fleet_open_sockets",
      help: "Numbers whose WhatsApp socket is open (connected)",
      registers,
      collect() {
        this.set(facts.openSockets());
      },
    });
    new Gauge({
      name: "pombo_fleet_numbers",
      help: "Numbers this process runs, whatever their state",
      registers,
      collect() {
        this.set(facts.numbers());
      },
    });
    new Gauge({
      name: "pombo_fleet_inbound_spool_rows",
      help: "Received messages waiting in the inbound spool for the edge to store them",
      registers,
      collect() {
        this.set(facts.spoolRows());
      },
    });
    new Gauge({
      name: "pombo_fleet_edge_linked",
      help: "1 while the link to the edge's directory is up",
      registers,
      collect() {
        this.set(facts.linked() ? 1 : 0);
      },
    });
    this.#sendsInFlight = new Gauge({ name: "pombo_fleet_sends_in_flight", help: "message.send calls from the edge not yet answered", registers });
    this.#reconnects = new Counter({
      name: "pombo_fleet_reconnects_total",
      help: "WhatsApp sockets reconnected after a close, by the close code (none: closed without one)",
      labelNames: ["close_code"],
      registers,
    });
  }

  reconnecting(closeCode: number | null): void {
    this.#reconnects.inc({ close_code: closeCode === null ? "none" : String(closeCode) });
  }

  /** The number's methods, with its sends counted while the edge waits for their answer. */
  countingSends(methods: MethodHandlers): MethodHandlers {
    const send = methods["message.send"];
    if (!send) return methods;
    return {
      ...methods,
      "message.send": async (params) => {
        this.#sendsInFlight.inc();
        try {
          return await send(params);
        } finally {
          this.#sendsInFlight.dec();
        }
      },
    };
  }
}

export type MetricsServer = { url: string; close(): Promise<void> };

/** Serves `/metrics` (Prometheus text) and `/health` (200 while linked to the edge, else 503) on host:port. */
export async function serveMetrics(metrics: FleetMetrics, opts: { host: string; port: number; logger: Logger }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://fleet").pathname;
    if (req.method !== "GET") return void res.writeHead(405, { allow: "GET" }).end();
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (err: unknown) => {
          opts.logger.warn({ err: String(err) }, "metrics could not be collected");
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (path === "/health") {
      const { facts } = metrics;
      const linked = facts.linked();
      const body = { ok: linked, linked, numbers: facts.numbers(), open_sockets: facts.openSockets() };
      return void res.writeHead(linked ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  opts.logger.info({ url }, "metrics served");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

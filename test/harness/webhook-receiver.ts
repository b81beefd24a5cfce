/**
 * A customer's webhook endpoint on loopback, for the end-to-end tests and the
 * inbound benchmark: it checks every delivery's Standard Webhooks signature
 * with the `standardwebhooks` library (as a receiver would), records it with
 * its arrival time, and can be taken down (port closed, connections
 * refused) and brought back on the same port, or told to fail (answer 500
 * while up). `undocumented()` checks what
 * it got against the events the API document describes.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { EVENT_SCHEMAS, type EventType } from "../../edge/services/event-catalogue.ts";
import type { Client } from "./client.ts";
import { GrowingList } from "./waits.ts";

export type Delivery = {
  /** `webhook-id`: the same on every retry of one event. */
  id: string;
  timestamp: number;
  /** Did the signature verify with the endpoint's secret? */
  valid: boolean;
  body: string;
  event: any;
  receivedAt: number;
  /** The HTTP status the receiver answered with. */
  answered: number;
};

/** What a receiver got for the messages it expected (see `WebhookReceiver.tally`). */
export type WebhookTally = {
  /** The first delivery for each expected key that arrived. */
  first: Map<string, Delivery>;
  /** Expected keys no delivery carried. */
  lost: string[];
  /** Keys that came as two or more distinct events (different `webhook-id`s). */
  duplicated: string[];
  /** Deliveries that repeated a `webhook-id` already received (retries, which receivers drop). */
  retried: number;
  /** Deliveries whose signature did not verify. */
  invalid: number;
};

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  #server: http.Server | null = null;
  #port = 0;
  #verifier: Webhook | null = null;
  readonly #events = new GrowingList(() => this.events());
  /** While set, every delivery is answered with this status (an endpoint that is up but failing); null answers as a receiver would. */
  failWith: number | null = null;

  /** The secret the edge gave when the webhook was created (shown once). */
  set secret(secret: string) {
    this.#verifier = new Webhook(secret);
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks`;
  }

  /** Brings the receiver up and makes it a webhook of `api`'s project for `events`, with the secret the edge gave. */
  async subscribe(api: Client, events: string[]): Promise<{ id: string }> {
    await this.up();
    const hook = await api.call<{ id: string; secret: string }>("POST", "/webhooks", { url: this.url, events }, 201);
    this.secret = hook.secret;
    return hook;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const headers = {
          "webhook-id": String(req.headers["webhook-id"] ?? ""),
          "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
          "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
        };
        let valid = false;
        try {
          this.#verifier?.verify(body, headers);
          valid = this.#verifier !== null;
        } catch {
          valid = false;
        }
        let event: unknown = null;
        try {
          event = JSON.parse(body);
        } catch {
          /* recorded as is */
        }
        const answered = this.failWith ?? (valid ? 200 : 401);
        this.deliveries.push({
          id: headers["webhook-id"],
          timestamp: Number(headers["webhook-timestamp"]),
          valid,
          body,
          event,
          receivedAt: Date.now(),
          answered,
        });
        const text = answered === 200 ? "ok" : answered === 401 ? "bad signature" : "failing on purpose";
        res.writeHead(answered, { "content-type": "text/plain" }).end(text);
        this.#events.grew();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.#port, "127.0.0.1", resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Closes the port: new connections are refused and open ones dropped, like an endpoint that is down. */
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** One delivery per event: retries carry the same `webhook-id`. */
  events(type?: string): any[] {
    const seen = new Map<string, any>();
    for (const d of this.deliveries) if (!seen.has(d.id)) seen.set(d.id, d.event);
    return [...seen.values()].filter((e) => !type || e?.type === type);
  }

  /**
   * Lost, duplicated and retried, for the messages a test sent: `keyOf` names
   * the message an event is about (its WhatsApp id, its body), `expected` the
   * keys that should each arrive once.
   */
  tally(expected: Iterable<string>, keyOf: (event: any) => string | undefined): WebhookTally {
    const want = new Set(expected);
    const first = new Map<string, Delivery>();
    const events = new Map<string, Set<string>>();
    let invalid = 0;
    for (const d of this.deliveries) {
      if (!d.valid) invalid++;
      const key = keyOf(d.event);
      if (key === undefined || !want.has(key)) continue;
      if (!first.has(key)) first.set(key, d);
      let ids = events.get(key);
      if (!ids) events.set(key, (ids = new Set()));
      ids.add(d.id);
    }
    return {
      first,
      lost: [...want].filter((k) => !first.has(k)),
      duplicated: [...events].filter(([, ids]) => ids.size > 1).map(([k]) => k),
      retried: this.deliveries.length - new Set(this.deliveries.map((d) => d.id)).size,
      invalid,
    };
  }

  /** Resolves with the first event matching `predicate`, waiting for it if needed. */
  waitForEvent(predicate: (event: any) => boolean, timeoutMs = 15_000, what = "a matching webhook event"): Promise<any> {
    return this.#events.first(
      predicate,
      timeoutMs,
      () => `no webhook delivered ${what} within ${timeoutMs} ms (got ${this.events().map((e) => e?.type).join(", ") || "nothing"})`,
    );
  }

  /** Events that do not match their type's schema in the API document (edge/services/event-catalogue.ts), with why. */
  undocumented(): { type: string; problem: string }[] {
    return this.events().flatMap((event) => {
      const schema = EVENT_SCHEMAS[event?.type as EventType];
      if (!schema) return [{ type: String(event?.type), problem: "not an event type the document lists" }];
      const parsed = schema.safeParse(event);
      return parsed.success ? [] : [{ type: event.type, problem: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") }];
    });
  }

  async close(): Promise<void> {
    await this.down();
  }
}

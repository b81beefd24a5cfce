/**
 * The edge <-> fleet wire protocol.
 *
 * A fleet process keeps two kinds of WebSocket to the edge:
 *  - one to the FleetDirectory (`GET /fleet/connect`), which tells it which
 *    instances to run (`assign`) or drop (`revoke`);
 *  - one per instance it runs, to that instance's Durable Object
 *    (`GET /fleet/instances/:id/connect`). Holding that socket open *is* the
 *    lease: the Durable Object accepts one holder at a time.
 *
 * Every JSON frame carries `v` (the protocol version) and is one of three
 * kinds: `evt` (one-way), `req` (expects a `res` with the same `id`) and
 * `res`. Liveness uses the plain text frames `ping` / `pong`, which the
 * Durable Objects answer without waking up (hibernation auto-response), so an
 * idle number costs the edge nothing while still renewing its lease.
 *
 * This module is the one both sides import; the schemas live by area in
 * `protocol/`: `frames.ts` (the envelope), `instance.ts` (lease and status),
 * `outbound.ts` (sends and their statuses), `inbound.ts` (received messages,
 * the spool), `whatsapp.ts` (groups, blocks, profiles) and `methods.ts` (the events and
 * methods by name).
 */
export * from "./protocol/frames.ts";
export * from "./protocol/instance.ts";
export * from "./protocol/outbound.ts";
export * from "./protocol/inbound.ts";
export * from "./protocol/whatsapp.ts";
export * from "./protocol/methods.ts";

/**
 * The two kinds of traffic a chaos run drives, each the way a real party
 * would keep at it through an outage:
 *
 *  - customers writing to the numbers: the peer (WhatsApp) takes each message
 *    from the customer's phone, which tries again until WhatsApp has it;
 *  - a client sending through the API: each message has its own
 *    Idempotency-Key, and a request that got no answer (connection refused or
 *    reset, timeout, 5xx, 429, or 409 while no number is connected) is sent
 *    again with the same key until it is accepted (202) or refused (any
 *    other 4xx).
 */
import { randomBytes } from "node:crypto";
import type { Peer } from "../harness/peers.ts";
import type { ProjectClient } from "../harness/client.ts";
import { sleep } from "../harness/waits.ts";

/** A message WhatsApp took from a customer. */
export type Written = { i: number; text: string; waId: string; number: number; at: number };

/** Customer k (one of `count`) writes to number k % N, as in bench/inbound.ts. */
export class Customers {
  readonly #peers: Peer[];
  readonly #count: number;
  readonly #base: number;
  /** Attempts the peer refused (its queue for a number with no socket is bounded); each was tried again. */
  refusals = 0;

  constructor(peers: Peer[], count: number, base = 5511944000000) {
    this.#peers = peers;
    this.#count = count;
    this.#base = base;
  }

  jid(k: number): string {
    return `${this.#base + 1 + (k % this.#count)}@s.whatsapp.net`;
  }

  /** Message i: customer i % count writes `text` to its number, trying again until WhatsApp takes it. */
  async write(i: number, text: string, timeoutMs = 120_000): Promise<Written> {
    const customer = this.jid(i);
    const number = (i % this.#count) % this.#peers.length;
    const peer = this.#peers[number]!;
    const deadline = Date.now() + timeoutMs;
    // A phone picks its message's id (the peer's own ids count from 1 on every number).
    const messageId = `3EB0${randomBytes(9).toString("hex").toUpperCase()}`;
    for (;;) {
      try {
        const waId = await peer.inject({ chatJid: customer, senderJid: customer, text, pushName: "Chaos", messageId });
        return { i, text, waId, number, at: Date.now() };
      } catch (err) {
        this.refusals++;
        if (Date.now() > deadline) throw new Error(`WhatsApp (the peer) would not take message ${i} for ${timeoutMs} ms: ${(err as Error).message}`);
        await sleep(500);
      }
    }
  }
}

/** A send the API accepted. */
export type Accepted = { i: number; body: string; id: string; instanceId: string; at: number; attempts: number };
export type SendOutcome = { accepted: Accepted } | { refused: string };

/** Answers worth another try: the stack is down or busy, or no number is connected yet. */
const TRANSIENT_CODES = new Set(["no_number_available", "fleet_unavailable"]);

/**
 * POST /messages/text until it is accepted or refused, with one
 * Idempotency-Key for every attempt. Each failed attempt's reason is counted
 * in `retried` ("409 no_number_available", "fetch failed", ...). Gives up
 * (throws) after `timeoutMs`.
 */
export async function sendUntilAccepted(
  api: ProjectClient,
  msg: { i: number; to: string; body: string; key: string },
  retried: Map<string, number>,
  timeoutMs = 180_000,
): Promise<SendOutcome> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (let attempts = 1; ; attempts++) {
    try {
      const res = await fetch(`${api.baseUrl}/messages/text`, {
        method: "POST",
        headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json", "idempotency-key": msg.key },
        body: JSON.stringify({ to: msg.to, body: msg.body }),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      if (res.status === 202) {
        const body = JSON.parse(text) as { id: string; instance_id: string };
        return { accepted: { i: msg.i, body: msg.body, id: body.id, instanceId: body.instance_id, at: Date.now(), attempts } };
      }
      const code = /"code"\s*:\s*"([a-z_]+)"/.exec(text)?.[1] ?? "";
      last = `${res.status} ${code}`.trim();
      if (res.status < 500 && res.status !== 429 && !TRANSIENT_CODES.has(code)) return { refused: `${res.status} ${text.slice(0, 300)}` };
    } catch (err) {
      last = (err as Error).message;
    }
    retried.set(last, (retried.get(last) ?? 0) + 1);
    if (Date.now() > deadline) throw new Error(`message ${msg.i} not accepted within ${timeoutMs} ms (last: ${last})`);
    await sleep(1_000);
  }
}

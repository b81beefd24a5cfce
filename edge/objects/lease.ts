/**
 * Which fleet process may run one number: the lease, kept by the number's
 * Durable Object. The process whose WebSocket the object accepted holds it;
 * nobody else may take it until that socket is released, or its pings (which
 * the runtime answers without waking the object) stop for LEASE_TTL_MS.
 *
 * Each of the object's sockets carries an attachment saying whose it is and
 * whether it holds the lease; the stored `lease` outlives the socket, so a
 * holder whose link broke keeps the number until its pings would have lapsed
 * (the fleet fences itself before then).
 */
import { CloseCode, LEASE_TTL_MS } from "../../shared/protocol.ts";
import type { InstanceStorage } from "./instance-storage.ts";

type Attachment = { fleet_id: string; holder: boolean; granted_at: number };

/** How long a holder that missed its pings may still be holding the number. */
const expiresAt = (lastSeen: number) => lastSeen + LEASE_TTL_MS;

export class Lease {
  readonly #ctx: DurableObjectState;
  readonly #storage: InstanceStorage;
  readonly #waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, storage: InstanceStorage) {
    this.#ctx = ctx;
    this.#storage = storage;
  }

  /** 0 when `fleetId` may take the lease now, else how long it should wait. */
  async blockedFor(fleetId: string): Promise<number> {
    const lease = await this.#storage.get("lease");
    if (!lease || lease.fleet_id === fleetId) return 0; // free, or re-entrant
    const holder = this.#holderSocket();
    const until = holder ? expiresAt(this.#lastSeen(holder)) : (lease.expires_at ?? 0);
    const left = until - Date.now();
    // A live holder may release any moment (rebalance, drain): ask to retry soon.
    if (left > 0) return holder ? Math.min(left, 2_000) : left;
    return 0;
  }

  /** The fleet process the stored lease names, if any. */
  async holderId(): Promise<string | null> {
    return (await this.#storage.get("lease"))?.fleet_id ?? null;
  }

  /** Gives the lease to `fleetId` on `server`. Whoever held it before (an expired holder, or an older socket of this same fleet) is let go first. */
  async grant(server: WebSocket, fleetId: string): Promise<void> {
    this.dropAll(CloseCode.leaseHeld, "lease moved");
    this.#ctx.acceptWebSocket(server);
    attach(server, { fleet_id: fleetId, holder: true, granted_at: Date.now() });
    await this.#storage.put("lease", { fleet_id: fleetId, expires_at: null });
  }

  /** Whoever waits for a holder (`waitForHolder`) looks again: call once the new holder is told. */
  granted(): void {
    for (const wake of this.#waiters) wake();
  }

  isHolder(ws: WebSocket): boolean {
    return attachmentOf(ws)?.holder ?? false;
  }

  /** The fleet process a socket belongs to (a socket is attached when it is accepted). */
  fleetOf(ws: WebSocket): string {
    return (attachmentOf(ws) as Attachment).fleet_id;
  }

  /** The holder's socket, if its pings are still in time. */
  liveHolder(): WebSocket | undefined {
    const holder = this.#holderSocket();
    return holder && expiresAt(this.#lastSeen(holder)) > Date.now() ? holder : undefined;
  }

  waitForHolder(waitMs: number): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve(this.liveHolder());
      };
      const timer = setTimeout(done, waitMs);
      this.#waiters.add(done);
    });
  }

  /**
   * The socket closed or failed. The process may still be alive behind a
   * broken link, with its WhatsApp socket open: the lease runs until its
   * pings would have lapsed. The holder's fleet id, or null if it did not hold the lease.
   */
  async lapse(ws: WebSocket): Promise<string | null> {
    const attachment = attachmentOf(ws);
    if (!attachment?.holder) return null;
    setAttachment(ws, { holder: false });
    await this.#storage.put("lease", { fleet_id: attachment.fleet_id, expires_at: expiresAt(this.#lastSeen(ws)) });
    return attachment.fleet_id;
  }

  /** The holder let go cleanly (drain, revoke): the lease ends now. Its fleet id, or null if `ws` did not hold it. */
  async release(ws: WebSocket): Promise<string | null> {
    const attachment = attachmentOf(ws);
    if (!attachment?.holder) return null;
    setAttachment(ws, { holder: false });
    await this.#storage.delete("lease");
    return attachment.fleet_id;
  }

  /** Closes every socket, marked first as no holder so that closing it does not write a lease back. */
  dropAll(code: number, reason: string): void {
    for (const ws of this.#ctx.getWebSockets()) {
      setAttachment(ws, { holder: false });
      closeSocket(ws, code, reason);
    }
  }

  #holderSocket(): WebSocket | undefined {
    return this.#ctx.getWebSockets().find((ws) => attachmentOf(ws)?.holder);
  }

  /** When we last heard from a socket: its last auto-answered ping, or its grant. */
  #lastSeen(ws: WebSocket): number {
    const granted = attachmentOf(ws)?.granted_at ?? 0;
    return Math.max(granted, this.#ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
  }
}

/** Closes a socket that may be closed already. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

/**
 * Each socket's attachment as last serialized, read on every frame
 * (`isHolder`) without deserializing it each time. Written only through
 * `attach`; a socket the object has not seen since it woke from hibernation
 * (this map starts empty) is read from its serialized attachment once.
 */
const attachments = new WeakMap<WebSocket, Attachment | null>();

function attachmentOf(ws: WebSocket): Attachment | null {
  let attachment = attachments.get(ws);
  if (attachment === undefined) {
    attachment = ws.deserializeAttachment() as Attachment | null;
    attachments.set(ws, attachment);
  }
  return attachment;
}

function attach(ws: WebSocket, attachment: Attachment): void {
  ws.serializeAttachment(attachment);
  attachments.set(ws, attachment);
}

function setAttachment(ws: WebSocket, patch: Partial<Attachment>): void {
  const current = attachmentOf(ws);
  if (current) attach(ws, { ...current, ...patch });
}

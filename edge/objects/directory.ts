/**
 * The fleet directory: one Durable Object that knows every instance and every
 * live fleet process, and decides which process runs which number.
 *
 * It only *assigns*; the instance's own Durable Object grants the lease. That
 * split keeps the safety property (one socket per number) local to one
 * object, while this one handles the load: new instances go to the least
 * loaded process, a dead process's numbers go to the others, and when a
 * process joins the numbers are evened out.
 */
import { DurableObject } from "cloudflare:workers";
import { PING, PONG, type Hello, eventFrame } from "../../shared/protocol.ts";
import { RpcPeer } from "../../shared/rpc.ts";
import type { Env } from "../env.ts";
import { type SqlTableSpec, createTables } from "./sql-table.ts";

type FleetAttachment = Partial<Hello> & { connected_at: number };
type LiveFleet = Hello & { ws: WebSocket; connected_at: number };

/** A process whose pings stopped this long ago is taken for dead. */
const FLEET_TIMEOUT_MS = 20_000;
const CHECK_EVERY_MS = 10_000;

export type FleetInfo = {
  fleet_id: string;
  host: string;
  pid: number;
  capacity: number;
  instances: number;
  connected_at: string;
  last_seen_at: string;
};

/** Which fleet process runs each number (null: none yet). */
const TABLES: SqlTableSpec[] = [
  { name: "assignment", columns: "instance_id TEXT PRIMARY KEY, fleet_id TEXT", indexes: { assignment_fleet: "fleet_id" } },
];

export class FleetDirectory extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    this.#sql = ctx.storage.sql;
    createTables(this.#sql, TABLES);
  }

  // ------------------------------------------------------------ called by the Worker

  async register(instanceId: string): Promise<void> {
    this.#sql.exec("INSERT OR IGNORE INTO assignment (instance_id, fleet_id) VALUES (?, NULL)", instanceId);
    this.#balance({ even: false });
  }

  async unregister(instanceId: string): Promise<void> {
    const [row] = this.#sql
      .exec<{ fleet_id: string | null }>("SELECT fleet_id FROM assignment WHERE instance_id = ?", instanceId)
      .toArray();
    this.#sql.exec("DELETE FROM assignment WHERE instance_id = ?", instanceId);
    if (row?.fleet_id) this.#send(row.fleet_id, "revoke", [instanceId]);
  }

  async fleets(): Promise<FleetInfo[]> {
    const counts = this.#counts();
    return [...this.#liveFleets().values()].map((f) => ({
      fleet_id: f.fleet_id,
      host: f.host,
      pid: f.pid,
      capacity: f.capacity,
      instances: counts.get(f.fleet_id) ?? 0,
      connected_at: new Date(f.connected_at).toISOString(),
      last_seen_at: new Date(this.#lastSeen(f.ws, f.connected_at)).toISOString(),
    }));
  }

  // ------------------------------------------------------------ fleet sockets

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ connected_at: Date.now() } satisfies FleetAttachment);
    await this.#scheduleCheck();
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return ws.close(1003, "text frames only");
    const peer = new RpcPeer({ send: (text) => ws.send(text), events: { hello: (hello) => this.#onHello(ws, hello) } });
    try {
      await peer.receive(message);
    } catch (err) {
      console.warn("directory: dropped a frame:", err instanceof Error ? err.message : err);
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#forget(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    this.#forget(ws);
  }

  /** Reaps processes whose pings stopped, and evens out the load. */
  async alarm(): Promise<void> {
    for (const fleet of this.#liveFleets().values()) {
      if (Date.now() - this.#lastSeen(fleet.ws, fleet.connected_at) > FLEET_TIMEOUT_MS) {
        fleet.ws.serializeAttachment({ connected_at: fleet.connected_at } satisfies FleetAttachment);
        fleet.ws.close(4008, "no pings");
      }
    }
    this.#balance({ even: true });
    if (this.ctx.getWebSockets().length > 0) await this.ctx.storage.setAlarm(Date.now() + CHECK_EVERY_MS);
  }

  #onHello(ws: WebSocket, hello: Hello): void {
    const { connected_at } = ws.deserializeAttachment() as FleetAttachment;
    // A process that reconnects keeps its numbers; its older socket goes.
    for (const other of this.ctx.getWebSockets()) {
      const attachment = other.deserializeAttachment() as FleetAttachment;
      if (other !== ws && attachment.fleet_id === hello.fleet_id) {
        other.serializeAttachment({ connected_at: attachment.connected_at } satisfies FleetAttachment);
        other.close(1000, "replaced by a newer connection of the same fleet process");
      }
    }
    ws.serializeAttachment({ ...hello, connected_at } satisfies FleetAttachment);
    // Orphans are placed before the list goes out: a process reaped for silence (an edge
    // pause) is usually still running its numbers, and the list it gets first is the one it
    // obeys (it stops whatever is not on it). Numbers placed here ride in that list, never
    // in an `assign` ahead of it, so they are not stopped and started again a moment later.
    this.#balance({ even: false, listedSeparately: hello.fleet_id });
    const mine = this.#sql
      .exec<{ instance_id: string }>("SELECT instance_id FROM assignment WHERE fleet_id = ?", hello.fleet_id)
      .toArray()
      .map((r) => r.instance_id);
    ws.send(eventFrame("assign", { instance_ids: mine }));
  }

  #forget(ws: WebSocket): void {
    const attachment = ws.deserializeAttachment() as FleetAttachment | null;
    ws.serializeAttachment({ connected_at: attachment?.connected_at ?? Date.now() } satisfies FleetAttachment);
    if (attachment?.fleet_id) this.#balance({ even: false });
  }

  // ------------------------------------------------------------ balancing

  /**
   * Gives every unassigned number (new, or its process died) to the least
   * loaded live process with room. With `even`, also moves numbers from the
   * busiest process to the idlest until they differ by at most one; moving a
   * number reconnects it, so this runs on the periodic check, not per event.
   * `listedSeparately`: a process about to get its complete list; it is not sent an `assign`.
   */
  #balance({ even, listedSeparately }: { even: boolean; listedSeparately?: string }): void {
    const fleets = this.#liveFleets();
    const load = new Map<string, string[]>([...fleets.keys()].map((id) => [id, []]));
    const orphans: string[] = [];
    for (const row of this.#sql.exec<{ instance_id: string; fleet_id: string | null }>(
      "SELECT instance_id, fleet_id FROM assignment ORDER BY instance_id",
    )) {
      const list = row.fleet_id ? load.get(row.fleet_id) : undefined;
      if (list) list.push(row.instance_id);
      else orphans.push(row.instance_id);
    }
    const hasRoom = (id: string) => {
      const capacity = fleets.get(id)?.capacity ?? 0;
      return capacity === 0 || (load.get(id)?.length ?? 0) < capacity;
    };
    const byLoad = () => [...load.entries()].sort((a, b) => a[1].length - b[1].length);

    const assigned = new Map<string, string[]>();
    const revoked = new Map<string, string[]>();
    const give = (fleetId: string, instanceId: string) => {
      load.get(fleetId)!.push(instanceId);
      assigned.set(fleetId, [...(assigned.get(fleetId) ?? []), instanceId]);
    };

    for (const instanceId of orphans) {
      const target = byLoad().find(([id]) => hasRoom(id));
      if (!target) break;
      give(target[0], instanceId);
    }
    while (even) {
      const sorted = byLoad();
      const [idlest, busiest] = [sorted[0], sorted.at(-1)];
      if (!idlest || !busiest || busiest[1].length - idlest[1].length <= 1 || !hasRoom(idlest[0])) break;
      const moved = busiest[1].pop()!;
      revoked.set(busiest[0], [...(revoked.get(busiest[0]) ?? []), moved]);
      give(idlest[0], moved);
    }

    const stillOrphans = orphans.filter((id) => ![...assigned.values()].some((ids) => ids.includes(id)));
    this.ctx.storage.transactionSync(() => {
      for (const [fleetId, ids] of assigned) {
        for (const id of ids) this.#sql.exec("UPDATE assignment SET fleet_id = ? WHERE instance_id = ?", fleetId, id);
      }
      for (const id of stillOrphans) this.#sql.exec("UPDATE assignment SET fleet_id = NULL WHERE instance_id = ?", id);
    });
    for (const [fleetId, ids] of revoked) this.#send(fleetId, "revoke", ids);
    for (const [fleetId, ids] of assigned) if (fleetId !== listedSeparately) this.#send(fleetId, "assign", ids);
  }

  #counts(): Map<string, number> {
    const rows = this.#sql.exec<{ fleet_id: string; n: number }>(
      "SELECT fleet_id, COUNT(*) AS n FROM assignment WHERE fleet_id IS NOT NULL GROUP BY fleet_id",
    );
    return new Map([...rows].map((r) => [r.fleet_id, r.n]));
  }

  #liveFleets(): Map<string, LiveFleet> {
    const fleets = new Map<string, LiveFleet>();
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as FleetAttachment | null;
      if (a?.fleet_id) fleets.set(a.fleet_id, { ...(a as Hello), ws, connected_at: a.connected_at });
    }
    return fleets;
  }

  #send(fleetId: string, event: "assign" | "revoke", instanceIds: string[]): void {
    const fleet = this.#liveFleets().get(fleetId);
    if (!fleet || instanceIds.length === 0) return;
    try {
      fleet.ws.send(eventFrame(event, { instance_ids: instanceIds }));
    } catch {
      // closing; its close handler reassigns
    }
  }

  #lastSeen(ws: WebSocket, connectedAt: number): number {
    return Math.max(connectedAt, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
  }

  async #scheduleCheck(): Promise<void> {
    if (this.ctx.getWebSockets().length === 0) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null) await this.ctx.storage.setAlarm(Date.now() + CHECK_EVERY_MS);
  }
}

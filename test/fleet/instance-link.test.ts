import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstanceLink, type LeaseLoss, type LinkEnd } from "../../fleet/instance-link.ts";
import type { LeaseGranted } from "../../shared/protocol.ts";
import { type FakeEdge, startFakeEdge } from "./fake-edge.ts";
import { until } from "./memory-edge.ts";

const silent = pino({ level: "silent" });
// Production timing scaled down ~15x so a fence happens in well under a second:
// the edge's lease lives 1 s after its last pong; we ping every 100 ms and fence 300 ms early.
const TTL_MS = 1_000;
const PING_MS = 100;
const MARGIN_MS = 300;

let edge: FakeEdge;
let links: InstanceLink[] = [];

beforeEach(async () => {
  edge = await startFakeEdge();
});
afterEach(async () => {
  await Promise.all(links.map((l) => l.close({ release: false })));
  links = [];
  await edge.close();
});

function openLink(id: string) {
  const grants: LeaseGranted[] = [];
  const losses: { why: LeaseLoss; at: number; heldAfter: boolean }[] = [];
  const ends: LinkEnd[] = [];
  edge.instance(id).ttlMs = TTL_MS;
  const link = new InstanceLink({
    edgeUrl: edge.url,
    token: edge.token,
    fleetId: "fleet-a",
    instanceId: id,
    logger: silent,
    pingIntervalMs: PING_MS,
    fenceMarginMs: MARGIN_MS,
    onGranted: (grant) => grants.push(grant),
    onLost: (why) => losses.push({ why, at: Date.now(), heldAfter: link.leaseHeld }),
    onEnded: (why) => ends.push(why),
  });
  links.push(link);
  link.start();
  return { link, grants, losses, ends };
}

describe("instance link and its lease", () => {
  it("gets the lease, and keeps it as long as the edge answers pings", async () => {
    const { link, grants, losses } = openLink("inst_a");
    await until(() => grants.length === 1, 3_000, "grant");
    expect(grants[0]).toMatchObject({ instance_id: "inst_a", ttl_ms: TTL_MS });
    expect(edge.instance("inst_a").fleetIds).toEqual(["fleet-a"]);
    await new Promise((resolve) => setTimeout(resolve, 2 * TTL_MS));
    expect(losses).toEqual([]);
    expect(link.leaseHeld).toBe(true);
    expect(edge.instance("inst_a").connects).toBe(1);
  });

  it("fences (kills the number's socket) before the edge's lease can expire when pongs stop, then re-acquires", async () => {
    const inst = edge.instance("inst_b");
    const { link, grants, losses } = openLink("inst_b");
    await until(() => grants.length === 1, 3_000, "grant");
    await new Promise((resolve) => setTimeout(resolve, 300));
    inst.answerPings = false; // the edge is stuck: no renewals
    await until(() => losses.length === 1, 3_000, "fence");
    expect(losses[0]).toMatchObject({ why: "fenced", heldAfter: false });
    // The whole point: we gave up strictly before the edge could hand the number to someone else.
    expect(losses[0]!.at).toBeLessThan(inst.lastPongAt + TTL_MS);
    inst.answerPings = true;
    await until(() => grants.length === 2, 3_000, "re-grant");
    expect(inst.connects).toBe(2);
    expect(link.leaseHeld).toBe(true);
  });

  it("rides out an edge restart: reconnects at once, keeps the lease, and delivers a write made while down", async () => {
    const inst = edge.instance("inst_c");
    const { link, grants, losses } = openLink("inst_c");
    await until(() => grants.length === 1, 3_000, "grant");
    link.emit("status", { state: "connected", reason: null, close_code: null, qr: null, qr_png: null, jid: "1@s.whatsapp.net", lid: null, push_name: null });
    await until(() => inst.statuses.length === 1, 3_000, "status");

    inst.live!.close(1012, "service restart");
    const write = link.call("session.set", { entries: { "session:x.0": "v1.ciphertext" } });
    await expect(write).resolves.toEqual({ written: 1 });
    expect(inst.entries.get("session:x.0")).toBe("v1.ciphertext");
    expect(inst.connects).toBe(2);
    expect(losses).toEqual([]);
    expect(grants).toHaveLength(2);
    // The edge hears the current status again on the new link.
    await until(() => inst.statuses.length === 2, 3_000, "status re-sent");
    expect(inst.statuses[1]!.state).toBe("connected");
  });

  it("runs its renewal listeners first when the link is back with the lease still ours: their write lands before a call that waited", async () => {
    const inst = edge.instance("inst_n");
    const { link, grants } = openLink("inst_n");
    await until(() => grants.length === 1, 3_000, "grant");
    let renewals = 0;
    link.onRenewed(() => {
      renewals++;
      void link.call("session.set", { entries: { "session:x.0": "v1.written-again" } });
    });
    inst.live!.close(1012, "service restart");
    // Made while the link is down, after the write the listener will make: it is the newer one and must land last.
    await link.call("session.set", { entries: { "session:x.0": "v1.newer" } });
    expect(renewals).toBe(1);
    expect(inst.entries.get("session:x.0")).toBe("v1.newer");
  });

  it("keeps receipts that come while the link is down and delivers them once it is back", async () => {
    const inst = edge.instance("inst_r");
    const { link, grants } = openLink("inst_r");
    await until(() => grants.length === 1, 3_000, "grant");
    const receipt = { wa_message_id: "3EB0AA", chat_jid: "5511988887777@s.whatsapp.net", status: "read" as const, error_code: null };

    inst.live!.close(1012, "service restart");
    link.emit("message.status", receipt);
    link.emit("message.status", { ...receipt, wa_message_id: "3EB0BB", status: "delivered" });
    await until(() => inst.messageStatuses.length === 2, 3_000, "receipts after the link is back");
    expect(inst.messageStatuses.map((s) => [s.wa_message_id, s.status])).toEqual([
      ["3EB0AA", "read"],
      ["3EB0BB", "delivered"],
    ]);
    expect(grants).toHaveLength(2);
  });

  it("does not send a write from a lost lease to whoever holds it next", async () => {
    const inst = edge.instance("inst_d");
    const { link, grants, losses } = openLink("inst_d");
    await until(() => grants.length === 1, 3_000, "grant");
    inst.answerPings = false;
    inst.deny = { retry_after_ms: 200, holder: "fleet-b" }; // another fleet takes over
    inst.live!.terminate();
    const write = link.call("session.set", { entries: { creds: "v1.stale" } }).catch((err: unknown) => err);
    await until(() => losses.length === 1, 3_000, "lease loss");
    expect(await write).toMatchObject({ code: "lease_lost" });
    expect(inst.entries.has("creds")).toBe(false);
  });

  it("waits while another fleet holds the lease, and gets it once it is free", async () => {
    const inst = edge.instance("inst_e");
    inst.deny = { retry_after_ms: 200, holder: "fleet-b" };
    const { grants } = openLink("inst_e");
    await until(() => inst.connects >= 2, 3_000, "a retry after the denial");
    expect(grants).toEqual([]);
    inst.deny = null;
    await until(() => grants.length === 1, 3_000, "grant after release");
  });

  it("stops for good when the instance is deleted (4004) or revoked (4005)", async () => {
    const deleted = openLink("inst_f");
    const revoked = openLink("inst_g");
    await until(() => deleted.grants.length === 1 && revoked.grants.length === 1, 3_000, "grants");
    edge.instance("inst_f").live!.close(4004, "deleted");
    edge.instance("inst_g").live!.close(4005, "revoked");
    await until(() => deleted.ends.length === 1 && revoked.ends.length === 1, 3_000, "ends");
    expect(deleted.ends).toEqual(["deleted"]);
    expect(revoked.ends).toEqual(["revoked"]);
    await expect(deleted.link.call("session.get", { keys: ["creds"] })).rejects.toMatchObject({ code: "stopped" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(edge.instance("inst_f").connects).toBe(1);
    expect(edge.instance("inst_g").connects).toBe(1);
  });

  it("says release before closing, so the next holder need not wait for the lease to lapse", async () => {
    const inst = edge.instance("inst_h");
    const { link, grants } = openLink("inst_h");
    await until(() => grants.length === 1, 3_000, "grant");
    await link.close({ release: true });
    await until(() => inst.live === null, 3_000, "closed");
    expect(inst.releases).toBe(1);
  });

  it("never gets a lease with the wrong token", async () => {
    const grants: LeaseGranted[] = [];
    const link = new InstanceLink({
      edgeUrl: edge.url,
      token: "wrong",
      fleetId: "fleet-a",
      instanceId: "inst_i",
      logger: silent,
      onGranted: (g) => grants.push(g),
      onLost: () => {},
      onEnded: () => {},
    });
    links.push(link);
    link.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(grants).toEqual([]);
    expect(edge.instance("inst_i").connects).toBe(0);
  });
});

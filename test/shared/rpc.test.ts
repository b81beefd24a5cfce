import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../shared/protocol.ts";
import { RpcPeer, type RpcPeerOptions } from "../../shared/rpc.ts";

/** Two peers wired back to back, as the edge and a fleet are over a WebSocket. */
function pair(edge: Omit<RpcPeerOptions, "send">, fleet: Omit<RpcPeerOptions, "send">) {
  const wire: string[] = [];
  const a: RpcPeer = new RpcPeer({ ...edge, send: (t) => (wire.push(t), queueMicrotask(() => void b.receive(t))) });
  const b: RpcPeer = new RpcPeer({ ...fleet, send: (t) => (wire.push(t), queueMicrotask(() => void a.receive(t))) });
  return { edge: a, fleet: b, wire };
}

describe("RpcPeer", () => {
  it("answers a request with the handler's result, and delivers events", async () => {
    const statuses: unknown[] = [];
    const { edge, fleet, wire } = pair(
      { events: { status: (s) => void statuses.push(s.state) } },
      { methods: { "instance.pairing_code": ({ phone }) => ({ code: `C-${phone}` }) } },
    );
    expect(await edge.call("instance.pairing_code", { phone: "5511" })).toEqual({ code: "C-5511" });
    fleet.emit("status", { state: "connected", reason: null, close_code: null, qr: null, qr_png: null, jid: null, lid: null, push_name: null });
    await new Promise((r) => setTimeout(r, 0));
    expect(statuses).toEqual(["connected"]);
    expect(wire.every((frame) => JSON.parse(frame).v === 1)).toBe(true);
  });

  it("turns a handler's failure into a coded error on the caller's side", async () => {
    const { edge } = pair(
      {},
      {
        methods: {
          "instance.pairing_code": () => {
            throw new ProtocolError("already_paired", "paired");
          },
        },
      },
    );
    await expect(edge.call("instance.pairing_code", { phone: "1" })).rejects.toMatchObject({ code: "already_paired" });
  });

  it("refuses params that do not fit the method, and methods nobody handles", async () => {
    const { fleet } = pair({ methods: { "session.get": () => ({ values: {} }) } }, {});
    await expect(fleet.call("session.get", { keys: "creds" } as never)).rejects.toMatchObject({ code: "bad_params" });
    await expect(fleet.call("session.clear", {})).rejects.toMatchObject({ code: "unknown_method" });
  });

  it("gives up after its timeout, and fails every waiting call when the link closes", async () => {
    const silent = new RpcPeer({ send: () => {} });
    await expect(silent.call("echo", { at: 1 }, 20)).rejects.toMatchObject({ code: "timeout" });
    const waiting = silent.call("echo", { at: 2 }, 5_000);
    expect(silent.waiting).toBe(1);
    silent.failAll("link closed");
    await expect(waiting).rejects.toMatchObject({ code: "closed" });
    expect(silent.waiting).toBe(0);
  });

  it("rejects frames that are not the protocol, or another version of it", async () => {
    const peer = new RpcPeer({ send: () => {}, events: { status: () => {} } });
    await expect(peer.receive("not json")).rejects.toMatchObject({ code: "bad_frame" });
    await expect(peer.receive(JSON.stringify({ v: 2, t: "evt", event: "status", data: {} }))).rejects.toMatchObject({
      code: "bad_version",
    });
    await expect(peer.receive(JSON.stringify({ v: 1, t: "evt", event: "status", data: { state: "flying" } }))).rejects.toMatchObject({
      code: "bad_frame",
    });
  });

  it("rejects an envelope that is not an event, a request or an answer as the protocol spells them", async () => {
    const peer = new RpcPeer({ send: () => {}, events: { status: () => {} }, methods: { echo: ({ at }) => ({ at }) } });
    const bad = [
      [],
      "frame",
      { t: "evt", event: "status", data: {} },
      { v: 1, t: "evt", event: 7, data: {} },
      { v: 1, t: "req", method: "echo", params: { at: 1 } },
      { v: 1, t: "req", id: 1.5, method: "echo", params: { at: 1 } },
      { v: 1, t: "req", id: 1, params: { at: 1 } },
      { v: 1, t: "res", id: 1, ok: false, error: { code: "x" } },
      { v: 1, t: "res", id: 1, ok: "yes", result: {} },
      { v: 1, t: "ping" },
    ];
    for (const frame of bad) await expect(peer.receive(JSON.stringify(frame)), JSON.stringify(frame)).rejects.toMatchObject({ code: "bad_frame" });
    // An answer nobody waits for is dropped quietly, ok or not.
    await expect(peer.receive(JSON.stringify({ v: 1, t: "res", id: 99, ok: false, error: { code: "x", message: "y" } }))).resolves.toBeUndefined();
  });
});

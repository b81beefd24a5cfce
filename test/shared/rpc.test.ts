import { describe, expect, it } from "vitest";
import { Frame, ProtocolError, parseFrame } from "../../shared/protocol.ts";
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

  it("hands an answer nobody waits for (its call timed out) to `late` (a send's session writes must not be lost with it)", async () => {
    const late: unknown[] = [];
    let answer!: (text: string) => void;
    const edge = new RpcPeer({ send: (t) => (answer = (result) => void edge.receive(JSON.stringify({ v: 1, t: "res", id: JSON.parse(t).id, ok: true, result: JSON.parse(result) }))), late: (r) => void late.push(r) });
    const slow = edge.call("message.send", { message_id: "m", wa_message_id: "w", chat_jid: "c", content: { type: "text", text: "hi" } } as never, 20);
    await expect(slow).rejects.toMatchObject({ code: "timeout" });
    answer(JSON.stringify({ wa_message_id: "w", timestamp: 1, session: { "session:x.0": "v1.s" } }));
    await new Promise((r) => setTimeout(r, 0));
    expect(late).toEqual([{ wa_message_id: "w", timestamp: 1, session: { "session:x.0": "v1.s" } }]);
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

  it("reads every frame exactly as the protocol's Frame schema does: the same fields (unknown ones dropped), the same refusals with the same message", () => {
    const frames = [
      { v: 1, t: "evt", event: "status", data: { state: "connected" }, extra: 1 },
      { v: 1, t: "evt", event: "status" },
      { v: 1, t: "evt", event: "status", data: null },
      { v: 1, t: "req", id: 7, method: "session.set", params: { entries: { "session:1": "x", "pre-key:2": null } } },
      { v: 1, t: "req", id: 7, method: "session.clear" },
      { v: 1, t: "req", id: 2 ** 60, method: "echo", params: {} },
      { v: 1, t: "res", id: 3, ok: true, result: { wa_message_id: "w", timestamp: 1 }, error: { code: "x", message: "y" } },
      { v: 1, t: "res", id: 3, ok: true },
      { v: 1, t: "res", id: 3, ok: false, error: { code: "server_error", message: "463", more: true } },
      { v: 1, t: "res", id: 3, ok: false, error: { code: "x" } },
      { v: 1, t: "res", id: 3, ok: false, result: {} },
      { v: 1.5, t: "evt", event: "status", data: {} },
      { v: "1", t: "evt", event: "status", data: {} },
      { v: 1, t: "req", id: -4, method: "echo", params: {} },
      { v: 1, t: "req", id: Number.MAX_SAFE_INTEGER + 2, method: "echo", params: {} },
      { v: 1, t: "evt", event: ["status"], data: {} },
      { v: 1, t: "pong" },
      [1, "evt"],
      null,
      42,
    ];
    for (const frame of frames) {
      const schema = Frame.safeParse(frame);
      const read = (() => {
        try {
          return { ok: true, frame: parseFrame(JSON.stringify(frame)) };
        } catch (err) {
          return { ok: false, code: (err as ProtocolError).code, message: (err as ProtocolError).message };
        }
      })();
      const expected = schema.success ? { ok: true, frame: schema.data } : { ok: false, code: "bad_frame", message: schema.error.message };
      expect(read, JSON.stringify(frame)).toEqual(expected);
    }
  });
});

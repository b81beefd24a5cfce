/**
 * The four WhatsApp queries a number answers for the edge (phone lookup,
 * block list, group list, one group) share one way of asking: bounded,
 * logged, failures turned into the query's own code. Around the socket: the
 * loopback peer answers every lookup at once and has no groups or block list,
 * so it cannot leave a query unanswered.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import { ProtocolError } from "../../shared/protocol.ts";
import { captureLogs } from "./captured-logs.ts";
import { openManager } from "./fake-manager.ts";

const cipher = new SessionCipher("queries unit session key");
const instanceId = "inst_queries_unit";
const PHONE = "5511955556666";
const USER = `${PHONE}@s.whatsapp.net`;
const GROUP = "120363041234567890@g.us";

const managers: ConnectionManager[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

/** An open number whose log lines are kept, and its socket. */
async function connected() {
  const { logger, logs } = captureLogs();
  const open = await openManager({ instanceId, cipher, me: { id: "5511999990001:3@s.whatsapp.net" }, logger });
  managers.push(open.manager);
  const lines = () =>
    logs()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...open, call: open.edge.edge.call.bind(open.edge.edge), logs, lines };
}

const outcome = async (promise: Promise<unknown>) => {
  try {
    return { answer: await promise };
  } catch (err) {
    return err instanceof ProtocolError ? { code: err.code, message: err.message } : { thrown: String(err) };
  }
};

const never = () => new Promise<never>(() => {});

describe("WhatsApp queries (unit, around the socket: the peer never leaves a query unanswered)", () => {
  it("a query WhatsApp never answers fails after 20 s, inside the edge's 25 s, with the query's own code saying what timed out", async () => {
    const { sock, call } = await connected();
    sock.executeUSyncQuery = never;
    sock.updateBlockStatus = never;
    sock.groupFetchAllParticipating = never;
    sock.groupMetadata = never;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });

    const settled: Record<string, unknown> = {};
    const asked = {
      "contacts.resolve": call("contacts.resolve", { phones: [PHONE] }),
      "contacts.block": call("contacts.block", { jid: USER, action: "block" }),
      "groups.list": call("groups.list", {}),
      "groups.get": call("groups.get", { jid: GROUP }),
    };
    for (const [name, promise] of Object.entries(asked)) void outcome(promise).then((result) => (settled[name] = result));

    await vi.advanceTimersByTimeAsync(19_999);
    expect(settled).toEqual({});
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toEqual({
      "contacts.resolve": { code: "resolve_failed", message: "lookup timed out after 20000 ms" },
      "contacts.block": { code: "block_failed", message: "block timed out after 20000 ms" },
      "groups.list": { code: "groups_failed", message: "group list timed out after 20000 ms" },
      "groups.get": { code: "groups_failed", message: "group metadata timed out after 20000 ms" },
    });
  });

  it("a failed query is one warning naming the query and the code the edge got (a lookup: how many phones, not which)", async () => {
    const { sock, call, logs, lines } = await connected();
    const failing = () => Promise.reject(new Error("internal-server-error"));
    sock.executeUSyncQuery = failing;
    sock.updateBlockStatus = failing;
    sock.groupFetchAllParticipating = failing;
    sock.groupMetadata = failing;

    expect(await outcome(call("contacts.resolve", { phones: [PHONE] }))).toMatchObject({ code: "resolve_failed" });
    expect(await outcome(call("contacts.block", { jid: USER, action: "unblock" }))).toMatchObject({ code: "block_failed" });
    expect(await outcome(call("groups.list", {}))).toMatchObject({ code: "groups_failed" });
    expect(await outcome(call("groups.get", { jid: GROUP }))).toMatchObject({ code: "groups_failed" });

    const warnings = lines().filter((line) => line.level === 40);
    expect(warnings.map(({ msg, code, err, phones, action }) => ({ msg, code, err, phones, action }))).toEqual([
      { msg: "contact lookup failed", code: "resolve_failed", err: "internal-server-error", phones: 1, action: undefined },
      { msg: "block list not changed", code: "block_failed", err: "internal-server-error", phones: undefined, action: "unblock" },
      { msg: "group list failed", code: "groups_failed", err: "internal-server-error", phones: undefined, action: undefined },
      { msg: "group metadata failed", code: "groups_failed", err: "internal-server-error", phones: undefined, action: undefined },
    ]);
    expect(logs()).not.toContain(PHONE);
  });
});

import { describe, expect, it } from "vitest";
import { textLine } from "../../fleet/log-text.ts";

const time = Date.UTC(2026, 11, 5, 12, 13, 18);
const hhmmss = new Date(time).toTimeString().slice(0, 8);
const base = { time, pid: 4242, fleet_id: "vm-4242-abc", instance_id: "08f475ab-be0c-44c0-99a5-f70fb676d938" };
const trace = "Error: WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)\n    at WebSocketClient.<anonymous> (socket.js:967:17)";

describe("fleet log as text lines (POMBO_LOG_FORMAT=text)", () => {
  it("a reconnect is one short line: time, the number's short id, the message and its fields, no pid or fleet id", () => {
    const line = textLine(
      { ...base, level: 30, msg: "reconnect scheduled", attempt: 3, in_ms: 3974, close_code: 408, reason: "transient", err: "WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)" },
      "info",
    );
    expect(line).toBe(`${hhmmss} 08f475ab reconnect scheduled attempt=3 in_ms=3974 close_code=408 reason=transient err="WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)"`);
  });

  it("Baileys' own records below error are left out at info (its stack traces with them); at debug they show as one line, without the trace", () => {
    const record = { ...base, level: 30, module: "baileys", trace, msg: "connection errored" };
    expect(textLine(record, "info")).toBeNull();
    expect(textLine(record, "debug")).toBe(`${hhmmss} 08f475ab baileys: connection errored`);
    expect(textLine({ ...record, level: 50 }, "info")).toBe(`${hhmmss} ERROR 08f475ab baileys: connection errored`);
  });

  it("levels other than info are named; an error object shows its message, not its stack; nulls are left out", () => {
    const line = textLine({ time, pid: 1, level: 40, msg: "directory link closed", code: 1006, reason: "", err: { type: "Error", message: "connect ECONNREFUSED 127.0.0.1:8787", stack: trace }, jid: null }, "info");
    expect(line).toBe(`${hhmmss} WARN directory link closed code=1006 reason="" err="connect ECONNREFUSED 127.0.0.1:8787"`);
  });
});

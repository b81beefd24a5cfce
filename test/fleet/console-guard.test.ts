import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { guardConsole } from "../../fleet/console-guard.ts";

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

function capture(level: string) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe("console guard", () => {
  it("keeps libsignal's messages but never the session records (private keys) it prints with them", async () => {
    const { logger, lines } = capture("debug");
    restore = guardConsole(logger);
    const privKey = Buffer.from("d1c2a3b4e5f60718293a4b5c6d7e8f90", "hex");
    console.info("Closing session:", { currentRatchet: { ephemeralKeyPair: { privKey } } });
    console.warn("Closing open session in favor of incoming prekey bundle");
    await new Promise((resolve) => setImmediate(resolve));
    const all = lines.join("");
    expect(all).toContain("Closing session:");
    expect(all).toContain("Closing open session in favor of incoming prekey bundle");
    expect(all).not.toContain(privKey.toString("hex"));
    expect(all).not.toContain(privKey.toString("base64"));
    expect(all).not.toMatch(/d1 c2 a3 b4/);
  });

  it("gives the console back when asked", () => {
    const before = console.info;
    const { logger } = capture("silent");
    guardConsole(logger)();
    expect(console.info).toBe(before);
  });
});

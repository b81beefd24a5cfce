/**
 * The receive path as a fleet process wires it, for tests that drive a
 * connection manager: a spool in a temporary directory (removed when the
 * test process exits) and a drainer that delivers through the given link,
 * the in-memory edge. Pass `spool` to the manager; what it receives reaches
 * the link through the real spool and drainer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { afterAll } from "vitest";
import type { SessionCipher } from "../../fleet/cipher.ts";
import type { EdgeLink } from "../../fleet/edge-link.ts";
import { edgeCourier } from "../../fleet/inbound-courier.ts";
import { InboundDrainer } from "../../fleet/inbound-drainer.ts";
import { inboundPreparer } from "../../fleet/inbound-prepare.ts";
import { InboundSpool, type InboundSpoolOptions } from "../../fleet/inbound-spool.ts";
import type { MediaHosts } from "../../fleet/inbound-media.ts";

export type TestInbound = { dir: string; spool: InboundSpool; drainer: InboundDrainer; close(): void };

const dirs: string[] = [];
// After each test file, not at process exit: vitest's workers outlive a file and are ended without an
// `exit` event, which left one directory per spool in /tmp for good (thousands after a few runs).
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory for spool files, removed once the test file is done. */
export function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pombo-spool-"));
  dirs.push(dir);
  return dir;
}

export function testInbound(opts: {
  link: EdgeLink;
  cipher: SessionCipher;
  logger?: Logger;
  /** Where received files may come from (a loopback peer: any host, private addresses). */
  mediaHosts?: MediaHosts;
  fetch?: typeof fetch;
  backoff?: { baseMs: number; maxMs: number };
  /** Room rules for the spool (by default it always has room). */
  room?: Partial<Pick<InboundSpoolOptions, "maxRows" | "minFreeBytes" | "recheckMs" | "freeBytes">>;
}): TestInbound {
  const logger = opts.logger ?? pino({ level: "silent" });
  const dir = spoolDir();
  const spool = InboundSpool.open({ dir, logger, maxRows: 100_000, minFreeBytes: 0, ...opts.room });
  // No HTTP here: every delivery goes on the link, as for a process holding the number.
  const courier = edgeCourier({ linkFor: () => opts.link, edgeUrl: "http://127.0.0.1:9", token: "unused" });
  const drainer = new InboundDrainer({
    spool,
    courier,
    logger,
    backoff: opts.backoff,
    prepare: inboundPreparer({ cipher: opts.cipher, courier, logger, mediaHosts: opts.mediaHosts, fetch: opts.fetch }),
  });
  drainer.start();
  return {
    dir,
    spool,
    drainer,
    close: () => {
      drainer.stop();
      spool.close();
    },
  };
}

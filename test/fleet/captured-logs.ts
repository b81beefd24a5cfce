/** A pino logger whose lines are kept, for tests that read what the fleet logs (and what it must never log). */
import { Writable } from "node:stream";
import pino, { type Level, type Logger } from "pino";

export function captureLogs(level: Level = "info"): { logger: Logger; logs: () => string } {
  let logs = "";
  const logger = pino({ level }, new Writable({ write: (chunk, _e, done) => ((logs += chunk.toString()), done()) }));
  return { logger, logs: () => logs };
}

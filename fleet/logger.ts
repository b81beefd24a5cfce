/**
 * One pino root logger per process; each instance gets a child carrying its
 * `instance_id`. Children are cheap, which matters at a hundred numbers.
 *
 * Nothing secret is ever passed to a log call; the redaction below is only a
 * safety net for fields that must never reach a log line even by mistake.
 */
import pino, { type Logger } from "pino";

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ["token", "fleetToken", "sessionKey", "creds", "keys", "headers.authorization", "*.creds", "*.keys"],
      censor: "[redacted]",
    },
  });
}

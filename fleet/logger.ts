/**
 * One pino root logger per process; each instance gets a child carrying its
 * `instance_id`. Children are cheap, which matters at a hundred numbers.
 *
 * Nothing secret is ever passed to a log call; the redaction below is only a
 * safety net for fields that must never reach a log line even by mistake.
 *
 * `format`: JSON lines (pipelines) or short text lines (a person; log-text.ts).
 */
import pino, { type Logger } from "pino";
import { textDestination } from "./log-text.ts";

export type LogFormat = "json" | "text";
export const LOG_FORMATS: readonly LogFormat[] = ["json", "text"];

export function createLogger(level: string, base: Record<string, unknown> = {}, format: LogFormat = "json"): Logger {
  const options = {
    level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ["token", "fleetToken", "sessionKey", "creds", "keys", "headers.authorization", "*.creds", "*.keys"],
      censor: "[redacted]",
    },
  };
  return format === "text" ? pino(options, textDestination(level)) : pino(options);
}

/**
 * Baileys logs at warn for things that are routine for us (history sync is
 * disabled on purpose, no push name yet). Unless the operator asked for
 * info or more, only its errors come through.
 */
export function baileysLogger(logger: Logger): Logger {
  const verbose = logger.isLevelEnabled("info");
  return logger.child({ module: "baileys" }, { level: verbose ? logger.level : "error" });
}

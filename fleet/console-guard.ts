/**
 * Keeps libraries' console output out of the logs, or at least their secrets.
 *
 * libsignal (under Baileys) printed whole Signal session records with
 * `console.info("Closing session:", session)`: private ratchet keys, in
 * clear. patches/libsignal+6.0.0.patch stops that at the source (for every
 * process: the fleet, the test peers); this stays as the net for whatever
 * else a library prints. A fleet process must never log key material, so its
 * console is rerouted to the pino logger (POMBO_LOG_LEVEL applies) with only
 * the string arguments kept: the message survives, the objects do not.
 */
import { format } from "node:util";
import type { Logger } from "pino";

type ConsoleMethod = "log" | "info" | "warn" | "error" | "debug" | "trace";

const LEVELS: Record<ConsoleMethod, "debug" | "info" | "warn" | "error"> = {
  log: "info",
  info: "debug", // libsignal's session chatter: routine
  debug: "debug",
  trace: "debug",
  warn: "warn",
  error: "error",
};

export function guardConsole(logger: Logger): () => void {
  const child = logger.child({ module: "console" });
  const original = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of Object.keys(LEVELS) as ConsoleMethod[]) {
    original.set(method, console[method]);
    console[method] = (...args: unknown[]) => {
      const level = LEVELS[method];
      if (!child.isLevelEnabled(level)) return;
      const text = args
        .map((arg) => (typeof arg === "string" ? arg : arg instanceof Error ? arg.message : typeof arg === "object" && arg !== null ? "[object]" : format("%s", arg)))
        .join(" ");
      child[level](text);
    };
  }
  return () => {
    for (const [method, fn] of original) console[method] = fn;
  };
}

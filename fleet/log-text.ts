/**
 * The fleet's log as short lines for a person at a terminal (POMBO_LOG_FORMAT=text,
 * the default on a TTY and under `npm start`): one line per record, time,
 * level when it is not info, the number (its id's first 8 characters), the
 * message and its fields as key=value. Stack traces stay out (an error shows
 * its message), and so do Baileys' own records below error unless the log
 * level is debug or finer: the fleet's own lines already say what happened
 * (a failed attempt is one "reconnect scheduled" line with its cause).
 *
 * Pipelines keep the JSON (POMBO_LOG_FORMAT=json, the default when stdout is
 * not a terminal), which holds every field.
 */
import pino, { type DestinationStream } from "pino";

type LogRecord = Record<string, unknown> & { level: number; time: number; msg?: string; module?: string; instance_id?: string };

/** Fields every record carries, or that the line already shows in its own place. */
const OMITTED = new Set(["level", "time", "msg", "pid", "hostname", "fleet_id", "instance_id", "module", "trace", "stack"]);
const LABELS = pino.levels.labels;

export function textLine(record: LogRecord, level: string): string | null {
  if (record.module === "baileys" && record.level < pino.levels.values.error! && pino.levels.values[level]! > pino.levels.values.debug!) return null;
  const time = new Date(record.time).toTimeString().slice(0, 8);
  const parts = [time];
  if (record.level !== pino.levels.values.info) parts.push((LABELS[record.level] ?? String(record.level)).toUpperCase());
  if (record.instance_id) parts.push(record.instance_id.slice(0, 8));
  if (record.module && record.module !== "console") parts.push(`${record.module}:`);
  parts.push(record.msg ?? "");
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED.has(key) || value === null || value === undefined) continue;
    if (key === "state" && record.msg === `status ${value}`) continue; // "status connecting state=connecting"
    parts.push(`${key}=${fieldText(key, value)}`);
  }
  return parts.join(" ");
}

function fieldText(key: string, value: unknown): string {
  // pino's error serializer gives {type, message, stack}: the message is what a person reads.
  if (key === "err" && typeof value === "object" && value !== null && "message" in value) value = String((value as { message: unknown }).message);
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A pino destination that writes `textLine`s to stdout. */
export function textDestination(level: string): DestinationStream {
  const out = pino.destination({ dest: 1, sync: true });
  return {
    write(json: string) {
      let line: string | null;
      try {
        line = textLine(JSON.parse(json) as LogRecord, level);
      } catch {
        line = json.trimEnd(); // not ours to judge: shown as it came
      }
      if (line !== null) out.write(`${line}\n`);
    },
  };
}

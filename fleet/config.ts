/**
 * Everything the fleet reads from its environment, read once at start-up.
 *
 * A fleet process is configured by env only, so that the same image runs on
 * any host: the edge decides which numbers it runs, not its config.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { DEFAULT_CONNECTION_CONFIG, type WAVersion } from "@whiskeysockets/baileys";
import { edgeUrlOf } from "./edge-url.ts";
import { DEFAULT_SILENCE_MS } from "./liveness.ts";
import { LOG_FORMATS, type LogFormat } from "./logger.ts";
import { allowsPrivateNetworks } from "../shared/net-policy.ts";

export type FleetConfig = {
  /** Base URL of the edge Worker, without a trailing slash. */
  edgeUrl: string;
  /** Bearer token for every edge endpoint under /fleet. */
  fleetToken: string;
  /** Secret the session encryption key is derived from; the edge never sees it. */
  sessionKey: string;
  /** WhatsApp WebSocket URL template; `{instance_id}` is replaced per instance. Null = WhatsApp's own. */
  waUrl: string | null;
  /** WhatsApp Web version to announce; refreshed from the network only after a 405. */
  waVersion: WAVersion;
  fleetId: string;
  /** Most instances this process wants to run; 0 = no limit. Told to the directory in `hello`. */
  capacity: number;
  logLevel: string;
  /** JSON lines, or short text lines for a person (POMBO_LOG_FORMAT; default: text on a terminal, else JSON). */
  logFormat: LogFormat;
  /** Whether Baileys runs its init queries (props, blocklist, privacy) after connecting. */
  waInitQueries: boolean;
  /** A WhatsApp socket that receives nothing this long (ms) is replaced. */
  waSilenceMs: number;
  /** QRs an unpaired number shows before pairing expires. */
  qrLimit: number;
  /** Proxies and received files may be on private and loopback addresses (POMBO_ALLOW_PRIVATE_NETWORKS=true; local testing). */
  allowPrivateNetworks: boolean;
  host: string;
  pid: number;
  /** Where the inbound spool lives: received messages not yet stored by the edge. Shared by the processes of one host, or one each. */
  dataDir: string;
  /** Rows in the spool past which the WhatsApp sockets wait for the edge to take some. */
  spoolMaxRows: number;
  /** Free disk below which they wait too. */
  spoolMinFreeMb: number;
  /** Where `/metrics` and `/health` are served (metrics.ts); null port: not at all. */
  metricsPort: number | null;
  metricsHost: string;
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Relative to the working directory, next to `npm start`'s local state. */
const DEFAULT_DATA_DIR = ".pombo/fleet";
/**
 * QRs an unpaired number shows before pairing expires and it stops until
 * asked again (restart, GET /qr, a pairing code). As Evolution API's
 * QRCODE_LIMIT: with Baileys' 60 s for the first QR and 20 s for each next
 * one, about 10 minutes for someone to scan; then no more reconnect loop and
 * no more `instance.qr` events.
 */
export const DEFAULT_QR_LIMIT = 30;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadConfig(env: NodeJS.ProcessEnv = process.env, stdoutIsTty = Boolean(process.stdout.isTTY)): FleetConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(`${name} is required`);
    return value;
  };
  const host = hostname();
  const pid = process.pid;

  const capacity = wholeNumber(env.POMBO_FLEET_CAPACITY, 0, "POMBO_FLEET_CAPACITY", 0);
  const spoolMaxRows = wholeNumber(env.POMBO_FLEET_SPOOL_MAX_ROWS, 100_000, "POMBO_FLEET_SPOOL_MAX_ROWS", 1);
  const spoolMinFreeMb = wholeNumber(env.POMBO_FLEET_SPOOL_MIN_FREE_MB, 64, "POMBO_FLEET_SPOOL_MIN_FREE_MB", 0);
  const waSilenceMs = wholeNumber(env.POMBO_WA_SILENCE_MS, DEFAULT_SILENCE_MS, "POMBO_WA_SILENCE_MS", 1_000);
  const qrLimit = wholeNumber(env.POMBO_QR_LIMIT, DEFAULT_QR_LIMIT, "POMBO_QR_LIMIT", 1);
  const metricsPort = env.POMBO_METRICS_PORT?.trim() ? wholeNumber(env.POMBO_METRICS_PORT, 0, "POMBO_METRICS_PORT", 1) : null;
  if (metricsPort !== null && metricsPort > 65_535) throw new ConfigError(`POMBO_METRICS_PORT must be a port number (1-65535), got "${env.POMBO_METRICS_PORT}"`);
  const logLevel = env.POMBO_LOG_LEVEL?.trim() || "warn";
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`POMBO_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  const logFormat = (env.POMBO_LOG_FORMAT?.trim() || (stdoutIsTty ? "text" : "json")) as LogFormat;
  if (!LOG_FORMATS.includes(logFormat)) throw new ConfigError(`POMBO_LOG_FORMAT must be one of ${LOG_FORMATS.join(", ")}, got "${env.POMBO_LOG_FORMAT}"`);

  return {
    edgeUrl: edgeUrlFrom(env).url,
    fleetToken: required("POMBO_FLEET_TOKEN"),
    sessionKey: required("POMBO_SESSION_KEY"),
    waUrl: env.POMBO_WA_URL?.trim() || null,
    waVersion: parseWaVersion(env.POMBO_WA_VERSION),
    // Random suffix: two processes restarted with the same pid on one host must
    // not look like the same lease holder to the edge.
    fleetId: env.POMBO_FLEET_ID?.trim() || `${host}-${pid}-${randomBytes(3).toString("hex")}`,
    capacity,
    logLevel,
    logFormat,
    waInitQueries: parseBool(env.POMBO_WA_INIT_QUERIES, true, "POMBO_WA_INIT_QUERIES"),
    waSilenceMs,
    qrLimit,
    allowPrivateNetworks: allowsPrivateNetworks(env.POMBO_ALLOW_PRIVATE_NETWORKS),
    host,
    pid,
    dataDir: resolve(env.POMBO_FLEET_DATA_DIR?.trim() || DEFAULT_DATA_DIR),
    spoolMaxRows,
    spoolMinFreeMb,
    metricsPort,
    // Loopback unless asked: the numbers' states are nobody else's business.
    metricsHost: env.POMBO_METRICS_HOST?.trim() || "127.0.0.1",
  };
}

/**
 * Just what talking to the edge needs (the QR command has no use for the
 * session key), and where the edge URL came from, for its messages.
 */
export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): Pick<FleetConfig, "edgeUrl" | "fleetToken"> & { edgeUrlFrom: string } {
  const fleetToken = env.POMBO_FLEET_TOKEN?.trim();
  if (!fleetToken) throw new ConfigError("POMBO_FLEET_TOKEN is required");
  const { url, from } = edgeUrlFrom(env);
  return { edgeUrl: url, edgeUrlFrom: from, fleetToken };
}

/** POMBO_EDGE_URL, else the local edge on PORT, as `npm start` runs it (edge-url.ts). */
function edgeUrlFrom(env: NodeJS.ProcessEnv): { url: string; from: string } {
  try {
    return edgeUrlOf(env);
  } catch (err) {
    if (err instanceof RangeError) throw new ConfigError(err.message);
    throw err;
  }
}

/** "2.3000.1043857760" -> [2, 3000, 1043857760]; empty -> the version bundled with Baileys. */
export function parseWaVersion(text: string | undefined): WAVersion {
  if (!text?.trim()) return [...DEFAULT_CONNECTION_CONFIG.version] as WAVersion;
  const parts = text.trim().split(".");
  const numbers = parts.map(Number);
  if (parts.length !== 3 || !numbers.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new ConfigError(`POMBO_WA_VERSION must look like 2.3000.1043857760, got "${text}"`);
  }
  return numbers as WAVersion;
}

/** The WhatsApp URL for one instance, or undefined to let Baileys use WhatsApp's own. */
export function waUrlFor(config: Pick<FleetConfig, "waUrl">, instanceId: string): string | undefined {
  return config.waUrl?.replaceAll("{instance_id}", encodeURIComponent(instanceId));
}

function wholeNumber(text: string | undefined, fallback: number, name: string, min: number): number {
  if (!text?.trim()) return fallback;
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be a whole number >= ${min}, got "${text}"`);
  return value;
}

function parseBool(text: string | undefined, fallback: boolean, name: string): boolean {
  const value = text?.trim().toLowerCase();
  if (!value) return fallback;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false, got "${text}"`);
}

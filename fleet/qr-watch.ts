/**
 * `npm run fleet:qr -- <instance_id>`: the instance's pairing QR in the
 * terminal, redrawn as WhatsApp rotates it, until the number is connected.
 *
 * It polls the edge rather than the fleet: whichever fleet process holds the
 * number, the edge has its latest QR. It stops, with what to do next, where
 * waiting longer cannot help: an unknown instance, a token the edge refuses,
 * a number that is logged out, banned or whose pairing expired, and an edge
 * that stayed unreachable for `offlineTimeoutMs`.
 */
import QRCode from "qrcode";
import { loadEdgeConfig } from "./config.ts";
import { errorText } from "./errors.ts";

const POLL_INTERVAL_MS = 2_000;
const REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_OFFLINE_TIMEOUT_S = 30;

type QrView = { state: string; reason?: string | null; qr: string | null; qr_png?: string | null };

/** A reason to stop, said to the operator as is (no stack trace). */
export class QrStop extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QrStop";
  }
}

export type QrWatchOptions = {
  /** How long the edge may stay unreachable (no answer, or a 5xx) before giving up. */
  offlineTimeoutMs: number;
  pollIntervalMs?: number;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
};

export async function showQr(instanceId: string, env: NodeJS.ProcessEnv, opts: QrWatchOptions): Promise<void> {
  const { edgeUrl, edgeUrlFrom, fleetToken } = loadEdgeConfig(env);
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  // The first look starts an expired pairing again (the operator asked for a QR, as GET /qr does);
  // the later ones only look, so a pairing that expires while we watch stops us.
  const url = `${edgeUrl}/fleet/instances/${encodeURIComponent(instanceId)}/qr`;
  let looked = false;
  const curlAuth = `-H "Authorization: Bearer $POMBO_API_KEY"`;
  const offlineS = Math.round(opts.offlineTimeoutMs / 1000);
  let shownQr: string | null = null;
  let shownState: string | null = null;
  let shownProblem: string | null = null;
  let offlineSince: number | null = null;

  /** The edge did not answer (or answered 5xx): say so once per cause, give up after the offline budget. */
  const unreachable = (why: string) => {
    offlineSince ??= Date.now();
    if (Date.now() - offlineSince >= opts.offlineTimeoutMs) {
      throw new QrStop(
        `gave up: the edge at ${edgeUrl} (from ${edgeUrlFrom}) could not be reached for ${offlineS} s (${why}). ` +
          `Is npm start running there? --offline-timeout <seconds> waits longer.`,
      );
    }
    if (why !== shownProblem) err.write(`${instanceId}: cannot reach the edge at ${edgeUrl} (from ${edgeUrlFrom}): ${why}; retrying for up to ${offlineS} s\n`);
    shownProblem = why;
  };

  for (let first = true; ; first = false) {
    if (!first) await sleep(opts.pollIntervalMs ?? POLL_INTERVAL_MS);
    let res: Response;
    try {
      res = await fetch(looked ? `${url}?restart=false` : url, { headers: { Authorization: `Bearer ${fleetToken}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      unreachable(fetchFailure(e));
      continue;
    }
    // A 5xx is an edge starting up or in trouble: as good as unreachable, for a while.
    if (res.status >= 500) {
      unreachable(`it answered ${res.status} ${res.statusText}`.trim());
      continue;
    }
    if (res.status === 404) {
      throw new QrStop(`no instance ${instanceId} at ${edgeUrl}. List the instances: curl -s ${edgeUrl}/instances ${curlAuth}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new QrStop(`the edge at ${edgeUrl} refused POMBO_FLEET_TOKEN (${res.status}): use the token the edge was given`);
    }
    if (!res.ok) throw new QrStop(`the edge at ${edgeUrl} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const view = (await res.json()) as QrView;
    looked = true;
    if (shownProblem) err.write(`${instanceId}: reached the edge at ${edgeUrl}\n`);
    offlineSince = null;
    shownProblem = null;

    if (view.state === "connected") {
      out.write(`${instanceId}: connected\n`);
      return;
    }
    const restart = `curl -s -X POST ${edgeUrl}/instances/${instanceId}/restart ${curlAuth}`;
    if (view.state === "disconnected" && view.reason === "logged_out") {
      throw new QrStop(`${instanceId} is logged out of WhatsApp, so it shows no QR. For a new QR, restart it, then run this again:\n  ${restart}`);
    }
    if (view.state === "disconnected" && view.reason === "pairing_expired") {
      throw new QrStop(`${instanceId}: pairing expired (nobody scanned its QRs). For a new QR, run this again (it starts pairing again), or:\n  ${restart}`);
    }
    if (view.state === "disconnected" && view.reason === "banned") {
      throw new QrStop(`${instanceId} is banned by WhatsApp: there is no QR to scan`);
    }
    if (view.qr && view.qr !== shownQr) {
      shownQr = view.qr;
      const art = await QRCode.toString(view.qr, { type: "terminal", small: true });
      out.write(`\n${art}\nScan with WhatsApp > Linked devices (${instanceId}, ${view.state})\n`);
    } else if (view.state !== shownState && !view.qr) {
      out.write(`${instanceId}: ${view.state}${view.reason ? ` (${view.reason})` : ""}, waiting for a QR...\n`);
    }
    shownState = view.state;
  }
}

/** Why a fetch got no answer, as the operator can act on it: "connect ECONNREFUSED 127.0.0.1:8787", not "fetch failed". */
export function fetchFailure(e: unknown): string {
  if (e instanceof DOMException && e.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  let cause = (e as { cause?: unknown }).cause;
  // Several addresses tried (localhost: ::1 and 127.0.0.1): the first says enough.
  if (cause instanceof AggregateError && cause.errors.length) cause = cause.errors[0];
  if (cause instanceof Error) return cause.message || (cause as NodeJS.ErrnoException).code || errorText(e);
  return errorText(e);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

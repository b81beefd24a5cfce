/**
 * One request a number makes of WhatsApp for the edge, asked the same way
 * whatever it is: on the open socket (else `not_connected`), bounded below
 * the edge's 25 s command timeout so the API can say why instead of timing
 * out, and a failure logged and turned into a code: `not_connected` when the
 * socket dropped under it (the edge waits for the number), else the
 * request's own.
 */
import type { Logger } from "pino";
import type { ProtocolError } from "../shared/protocol.ts";
import { withTimeout } from "./deadlines.ts";
import { classifySendError } from "./outbound-content.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";

/** One round trip, answered inside the edge's 25 s. */
const ASK_TIMEOUT_MS = 20_000;

export type Ask<T> = {
  /** What the timeout's message calls it. */
  name: string;
  /** The log line when it fails. */
  failed: string;
  /** What else that line says: counts and actions, never a phone or a JID. */
  log?: Record<string, unknown>;
  /** The error for a failure while the socket is up. */
  error: (err: unknown) => ProtocolError;
  ask: (sock: SocketLike) => Promise<T>;
};

export async function askOpenSocket<T>(sockets: Sockets, logger: Logger, query: Ask<T>): Promise<T> {
  const sock = sockets.open();
  try {
    return await withTimeout(query.ask(sock), ASK_TIMEOUT_MS, query.name);
  } catch (err) {
    // A socket that drops reads the same under a query as under a send.
    const dropped = classifySendError(err);
    const failure = dropped.code === "not_connected" ? dropped : query.error(err);
    logger.warn({ ...query.log, code: failure.code, err: failure.message }, query.failed);
    throw failure;
  }
}

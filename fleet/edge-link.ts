/**
 * What the fleet needs from a link to the edge, and how it opens one.
 *
 * Code that only talks over a link (the session store, the connection
 * manager) depends on the small `EdgeLink` shape, not on WebSockets, so tests
 * can hand it an in-memory `RpcPeer` instead.
 */
import WebSocket from "ws";
import type { EventData, EventName, MethodName, Params, Result } from "../shared/protocol.ts";

export type EdgeLink = {
  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>>;
  emit<E extends EventName>(event: E, data: EventData<E>): void;
};

/** `http://host:8787` + `/fleet/connect` -> `ws://host:8787/fleet/connect`. */
export function edgeSocketUrl(edgeUrl: string, path: string, query: Record<string, string> = {}): string {
  const url = new URL(`${edgeUrl.replace(/\/+$/, "")}${path}`);
  url.protocol = url.protocol === "https:" ? "wss:" : url.protocol === "http:" ? "ws:" : url.protocol;
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

export function openEdgeSocket(url: string, token: string): WebSocket {
  return new WebSocket(url, {
    headers: { Authorization: `Bearer ${token}` },
    handshakeTimeout: 10_000,
    // Frames are small JSON; compression would cost memory per socket for nothing.
    perMessageDeflate: false,
  });
}

/** Closes a ws and waits (briefly) for the close handshake. */
export function closeSocket(ws: WebSocket, code: number, reason: string, timeoutMs = 1_000): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, timeoutMs);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
    }
  });
}

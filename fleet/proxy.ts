/**
 * The HTTP agent a number's traffic goes through, from its `proxy_url`.
 *
 * Each number can have its own proxy (anti-ban: numbers should not all come
 * from one IP). The same agent carries the WhatsApp WebSocket and media
 * downloads, so both leave from the same address.
 */
import type { Agent } from "node:https";
import { HttpsProxyAgent } from "https-proxy-agent";
import { SocksProxyAgent } from "socks-proxy-agent";

export function proxyAgent(proxyUrl: string | null | undefined): Agent | undefined {
  if (!proxyUrl) return undefined;
  const { protocol } = new URL(proxyUrl);
  if (protocol === "http:" || protocol === "https:") return new HttpsProxyAgent(proxyUrl);
  if (protocol.startsWith("socks")) return new SocksProxyAgent(proxyUrl);
  throw new Error(`unsupported proxy scheme ${protocol}`);
}

/** The proxy URL without credentials, safe to log. */
export function redactProxyUrl(proxyUrl: string | null | undefined): string | null {
  if (!proxyUrl) return null;
  try {
    const url = new URL(proxyUrl);
    return `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ""}`;
  } catch {
    return "(unparseable)";
  }
}

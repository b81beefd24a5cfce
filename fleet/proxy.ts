/**
 * The HTTP agent a number's traffic goes through, from its `proxy_url`.
 *
 * Each number can have its own proxy (anti-ban: numbers should not all come
 * from one IP). The same agent carries the WhatsApp WebSocket and media
 * downloads, so both leave from the same address.
 *
 * A client chose the proxy's address, so it is held to the destination
 * policy before it is dialed (net-guard.ts): every address of its name must
 * be public unless the operator allows private networks, and the agent
 * connects to exactly the addresses checked.
 */
import type { Agent } from "node:https";
import { HttpsProxyAgent } from "https-proxy-agent";
import { SocksProxyAgent } from "socks-proxy-agent";
import { pinnedLookup, publicAddresses } from "./net-guard.ts";

export async function proxyAgent(proxyUrl: string | null | undefined, allowPrivate: boolean): Promise<Agent | undefined> {
  if (!proxyUrl) return undefined;
  const { protocol, hostname } = new URL(proxyUrl);
  const http = protocol === "http:" || protocol === "https:";
  if (!http && !protocol.startsWith("socks")) throw new Error(`unsupported proxy scheme ${protocol}`);
  // Allowed anywhere: nothing to check, and the system resolver dials as usual.
  const lookup = allowPrivate ? undefined : pinnedLookup(await publicAddresses(hostname, false));
  if (http) return new HttpsProxyAgent(proxyUrl, lookup ? { lookup } : undefined);
  return new SocksProxyAgent(proxyUrl, lookup ? { socketOptions: { lookup } } : undefined);
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

/**
 * Whether the edge may connect to a client-given URL's host (SSRF): the
 * shared policy (shared/net-policy.ts) applied to the addresses the name
 * resolves to now. Used when a media URL is fetched (every redirect hop),
 * when a webhook, alert or proxy URL is accepted, and before each webhook
 * delivery (a name may have moved since).
 *
 * A Worker's fetch cannot be pinned to the address checked here, so a name
 * that changes between the check and the connection (DNS rebinding) is the
 * residual risk; on Cloudflare, fetch does not reach private networks anyway.
 */
import { PRIVATE_NETWORKS_HINT, PRIVATE_NETWORKS_SETTING, allowsPrivateNetworks, bareHost, firstPrivate, isIpLiteral, isLocalName, isPublicAddress } from "../../shared/net-policy.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { ResolveFailure, resolveAddresses } from "./dns.ts";

export class DestinationRefused extends Error {
  code: "private_address" | "unresolvable_host" | "dns_unavailable";
  constructor(code: DestinationRefused["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export const privateNetworksAllowed = (env: Pick<Env, "POMBO_ALLOW_PRIVATE_NETWORKS">) => allowsPrivateNetworks(env.POMBO_ALLOW_PRIVATE_NETWORKS);

/** Resolves when `hostname` (a URL's) leads only to public addresses, or the operator allows private ones. */
export async function checkDestination(env: Env, hostname: string): Promise<void> {
  if (privateNetworksAllowed(env)) return;
  const host = bareHost(hostname);
  if (isIpLiteral(host)) {
    if (!isPublicAddress(host)) throw new DestinationRefused("private_address", `${host} is not a public address; ${PRIVATE_NETWORKS_HINT}`);
    return;
  }
  if (isLocalName(host)) throw new DestinationRefused("private_address", `${host} is a local name; ${PRIVATE_NETWORKS_HINT}`);
  let addresses: string[];
  try {
    addresses = await resolveAddresses(env, host);
  } catch (err) {
    if (!(err instanceof ResolveFailure)) throw err;
    if (err.code === "resolver_unavailable") throw new DestinationRefused("dns_unavailable", err.message);
    throw new DestinationRefused("unresolvable_host", `${err.message}: nothing to connect to`);
  }
  const inside = firstPrivate(addresses);
  if (inside) throw new DestinationRefused("private_address", `${host} resolves to ${inside}; ${PRIVATE_NETWORKS_HINT}`);
}

/**
 * A URL field's refusal as the API answers it: 400 naming the field (a
 * private or unresolvable host is the client's to fix), 503 when our
 * resolver failed. `privateCode` keeps each field's established code.
 */
export async function checkUrlField(env: Env, url: URL, field: string, privateCode = "private_address"): Promise<void> {
  try {
    await checkDestination(env, url.hostname);
  } catch (err) {
    throw destinationApiError(err, field, privateCode);
  }
}

export function destinationApiError(err: unknown, field: string, privateCode = "private_address"): unknown {
  if (!(err instanceof DestinationRefused)) return err;
  if (err.code === "dns_unavailable") return new ApiError(503, "dns_unavailable", `${field}: ${err.message}; try again`, { field });
  const code = err.code === "private_address" ? privateCode : err.code;
  return new ApiError(400, code, `${field}: ${err.message}`, { field, ...(err.code === "private_address" ? { setting: PRIVATE_NETWORKS_SETTING } : {}) });
}

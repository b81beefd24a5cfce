/**
 * Which network destinations a client-given URL may point at: the one policy
 * the edge (media, webhooks, alert URL, proxy URL) and the fleet (proxies,
 * received media) apply before connecting.
 *
 * Only public unicast addresses pass, unless the operator allows private
 * networks (POMBO_ALLOW_PRIVATE_NETWORKS=true, for local testing). A name is
 * judged by the addresses it resolves to, every one of them: the spelling of
 * a name says nothing about where it leads. Names that are local by
 * definition (localhost, mDNS, single labels) are refused without asking DNS,
 * which may not know them but the connecting host does.
 */
import ipaddr from "ipaddr.js";

/** The operator setting that lets private destinations through; refusals name it. */
export const PRIVATE_NETWORKS_SETTING = "POMBO_ALLOW_PRIVATE_NETWORKS";

export const allowsPrivateNetworks = (value: string | undefined) => value?.trim().toLowerCase() === "true";

/** The sentence every refusal of a private destination ends with. */
export const PRIVATE_NETWORKS_HINT = `private, loopback and link-local destinations are refused unless the operator sets ${PRIVATE_NETWORKS_SETTING}=true (local testing only)`;

/**
 * A URL's hostname as the resolver sees it: no IPv6 brackets, no trailing
 * root dots (`localhost.` is localhost), lower case.
 */
export const bareHost = (hostname: string) => hostname.replace(/^\[|\]$/g, "").replace(/\.+$/, "").toLowerCase();

// RFC 6761/6762/8375 and de-facto private suffixes; a name without a dot is a local search-domain name.
const LOCAL_NAMES = /(^localhost$|\.localhost$|\.local$|\.internal$|\.lan$|\.home\.arpa$|^[^.]*$)/;

export const isLocalName = (host: string) => LOCAL_NAMES.test(bareHost(host));

export const isIpLiteral = (host: string) => ipaddr.isValid(bareHost(host));

/** True for a public unicast address; IPv4 inside IPv6 (mapped, or the deprecated compatible form) is judged as IPv4. */
export function isPublicAddress(ip: string): boolean {
  const host = bareHost(ip);
  if (!ipaddr.isValid(host)) return false;
  let address = ipaddr.parse(host);
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) address = v6.toIPv4Address();
    // ::a.b.c.d (deprecated IPv4-compatible, ::/96): ipaddr.js calls it unicast, but it carries an IPv4 address.
    else if (v6.parts.slice(0, 6).every((part) => part === 0)) return false;
  }
  return address.range() === "unicast";
}

/** The first address in `addresses` that is not public, if any. */
export const firstPrivate = (addresses: readonly string[]) => addresses.find((address) => !isPublicAddress(address));

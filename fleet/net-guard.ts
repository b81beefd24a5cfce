/**
 * The fleet's side of the destination policy (shared/net-policy.ts): where
 * a client or a message sender chose the address (a number's proxy, a
 * received file's URL), the fleet connects only to public addresses, unless
 * the operator sets POMBO_ALLOW_PRIVATE_NETWORKS=true on the fleet too.
 *
 * Unlike a Worker, Node can pin what it checked: names are resolved here,
 * every address is checked, and the connection is made to those very
 * addresses (a `lookup` for net/tls, an undici dispatcher for fetch), so a
 * name that changes its answer between check and connect gains nothing.
 */
import { lookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { Agent, type Dispatcher } from "undici";
import { PRIVATE_NETWORKS_HINT, bareHost, firstPrivate, isIpLiteral, isLocalName } from "../shared/net-policy.ts";

export class DestinationRefused extends Error {
  readonly code = "private_address";
}

/** Every address of `hostname`, all of them public unless `allowPrivate`; throws DestinationRefused otherwise. */
export async function publicAddresses(hostname: string, allowPrivate: boolean): Promise<LookupAddress[]> {
  const host = bareHost(hostname);
  if (!allowPrivate && !isIpLiteral(host) && isLocalName(host)) {
    throw new DestinationRefused(`${host} is a local name; ${PRIVATE_NETWORKS_HINT}`);
  }
  const addresses = await lookup(host, { all: true, verbatim: true });
  const inside = allowPrivate ? undefined : firstPrivate(addresses.map((a) => a.address));
  if (inside) throw new DestinationRefused(`${host}${inside === host ? "" : ` resolves to ${inside}`}; ${PRIVATE_NETWORKS_HINT}`);
  return addresses;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

const answer = (addresses: LookupAddress[], options: { all?: boolean }, callback: LookupCallback) =>
  options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family);

/** A `lookup` for net.connect / tls.connect / undici that resolves at connect time and answers only with checked addresses. */
export function checkedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    publicAddresses(hostname, allowPrivate).then(
      (addresses) => answer(addresses, options, callback),
      (err: NodeJS.ErrnoException) => callback(err, ""),
    );
  };
}

/** A `lookup` that answers with addresses already checked, whatever the name says now: the connection is pinned to them. */
export function pinnedLookup(addresses: LookupAddress[]) {
  return (_hostname: string, options: { all?: boolean }, callback: LookupCallback): void => answer(addresses, options, callback);
}

/**
 * An undici dispatcher for fetch (`{ dispatcher }`) that lets a request out
 * only to an origin `hostAllowed` accepts, and connects only to checked
 * addresses. Every request goes through it, redirects included.
 */
export function guardedDispatcher(allowPrivate: boolean, hostAllowed: (url: URL) => string | null): Dispatcher {
  return new GuardedAgent(allowPrivate, hostAllowed);
}

class GuardedAgent extends Agent {
  readonly #allowPrivate: boolean;
  readonly #hostAllowed: (url: URL) => string | null;

  constructor(allowPrivate: boolean, hostAllowed: (url: URL) => string | null) {
    super({ connect: { lookup: checkedLookup(allowPrivate) } });
    this.#allowPrivate = allowPrivate;
    this.#hostAllowed = hostAllowed;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = new URL(String(options.origin));
    const refusal = this.#hostAllowed(origin) ?? this.#literalRefusal(origin.hostname);
    if (refusal) throw new DestinationRefused(refusal);
    return super.dispatch(options, handler);
  }

  /** Addresses written as such never reach `lookup`: checked here. */
  #literalRefusal(hostname: string): string | null {
    if (this.#allowPrivate || !isIpLiteral(hostname)) return null;
    return firstPrivate([bareHost(hostname)]) ? `${bareHost(hostname)} is not a public address; ${PRIVATE_NETWORKS_HINT}` : null;
  }
}

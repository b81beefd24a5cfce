/**
 * Name -> addresses for the edge, through DNS over HTTPS (JSON API,
 * `application/dns-json`): a deployed Worker has no resolver of its own.
 *
 * The endpoint is POMBO_DOH_URL (default Cloudflare's). `npm start` and the
 * e2e harness point it at a local responder built on the system resolver
 * (scripts/local-doh.ts), because wrangler dev's workerd connects by the
 * system resolver, /etc/hosts included, and the check must see what the
 * connection will.
 *
 * A and AAAA are asked together; answers are kept for their TTL (at most
 * MAX_CACHE_S), failures not at all.
 */
export const DEFAULT_DOH_URL = "https://cloudflare-dns.com/dns-query";
const MAX_CACHE_S = 300;
const TIMEOUT_MS = 5_000;
const A = 1;
const AAAA = 28;
const NOERROR = 0;
const NXDOMAIN = 3;

export class ResolveFailure extends Error {
  /** `no_address`: the name does not exist or has no A/AAAA; `resolver_unavailable`: the resolver did not answer usefully. */
  code: "no_address" | "resolver_unavailable";
  constructor(code: ResolveFailure["code"], message: string) {
    super(message);
    this.code = code;
  }
}

type Answer = { addresses: string[]; ttl: number };

const cache = new Map<string, { addresses: Promise<string[]>; until: number }>();

/** Every A and AAAA address of `host` (non-empty), or a ResolveFailure. */
export function resolveAddresses(env: { POMBO_DOH_URL?: string }, host: string): Promise<string[]> {
  const endpoint = env.POMBO_DOH_URL?.trim() || DEFAULT_DOH_URL;
  const key = `${endpoint} ${host}`;
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.addresses;
  if (cache.size > 1_000) cache.clear();
  // Held while in flight, so a burst of deliveries to one host asks once.
  const entry = { addresses: Promise.resolve<string[]>([]), until: Infinity };
  entry.addresses = Promise.all([query(endpoint, host, A), query(endpoint, host, AAAA)]).then(
    ([v4, v6]) => {
      const addresses = [...v4.addresses, ...v6.addresses];
      if (addresses.length === 0) {
        cache.delete(key);
        throw new ResolveFailure("no_address", `${host} has no address`);
      }
      entry.until = Date.now() + Math.min(MAX_CACHE_S, v4.ttl, v6.ttl) * 1000;
      return addresses;
    },
    (err: unknown) => {
      cache.delete(key);
      throw err;
    },
  );
  cache.set(key, entry);
  return entry.addresses;
}

async function query(endpoint: string, host: string, type: number): Promise<Answer> {
  const url = new URL(endpoint);
  url.searchParams.set("name", host);
  url.searchParams.set("type", String(type));
  let body: { Status?: unknown; Answer?: { type?: unknown; data?: unknown; TTL?: unknown }[] };
  try {
    const response = await fetch(url, { headers: { accept: "application/dns-json" }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    body = (await response.json()) as typeof body;
  } catch (err) {
    throw new ResolveFailure("resolver_unavailable", `the DNS resolver did not answer for ${host}: ${err instanceof Error ? err.message : err}`);
  }
  if (body.Status === NXDOMAIN) return { addresses: [], ttl: 0 };
  if (body.Status !== NOERROR) throw new ResolveFailure("no_address", `${host} could not be resolved (DNS status ${String(body.Status)})`);
  // CNAME chains come back whole; the addresses are the records of the asked type.
  const records = (body.Answer ?? []).filter((r) => r.type === type && typeof r.data === "string");
  const ttl = records.reduce((min, r) => Math.min(min, typeof r.TTL === "number" && r.TTL >= 0 ? r.TTL : 0), MAX_CACHE_S);
  return { addresses: records.map((r) => r.data as string), ttl };
}

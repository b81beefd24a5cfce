/**
 * Fetching a URL a client gave us, without letting it reach inside our
 * network (SSRF): every hop's host must lead to public addresses only
 * (destinations.ts: names are resolved and every address checked) unless
 * the operator allows private networks. Redirects are followed by hand, a
 * few at most, each hop checked again; the body is read up to a size limit;
 * the whole fetch has a deadline.
 */
import type { Env } from "../env.ts";
import { DestinationRefused, checkDestination } from "./destinations.ts";

export class FetchRefused extends Error {
  code: "bad_url" | "too_large" | "timeout" | "http_error" | "too_many_redirects" | "unreachable";
  constructor(code: FetchRefused["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export type SafeFetchOptions = { maxBytes: number; timeoutMs?: number; maxRedirects?: number };

export type Fetched = { bytes: Uint8Array; contentType: string | null; url: string };

/** Fetches `input`; a refused destination throws DestinationRefused, any other failure FetchRefused. */
export async function safeFetch(env: Env, input: string, options: SafeFetchOptions): Promise<Fetched> {
  const { maxBytes, timeoutMs = 15_000, maxRedirects = 3 } = options;
  const signal = AbortSignal.timeout(timeoutMs);
  let url = input;
  try {
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const parsed = parseUrl(url);
      await checkDestination(env, parsed.hostname);
      const response = await fetch(parsed, { redirect: "manual", signal });
      if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
        await response.body?.cancel();
        url = new URL(response.headers.get("location")!, parsed).toString();
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new FetchRefused("http_error", `the media URL answered ${response.status}`);
      }
      const declared = Number(response.headers.get("content-length") ?? "0");
      if (declared > maxBytes) {
        await response.body?.cancel();
        throw new FetchRefused("too_large", `the file is ${declared} bytes; the limit is ${maxBytes}`);
      }
      return { bytes: await readCapped(response, maxBytes), contentType: response.headers.get("content-type"), url };
    }
  } catch (err) {
    if (err instanceof FetchRefused || err instanceof DestinationRefused) throw err;
    if (signal.aborted) throw new FetchRefused("timeout", `the media URL did not answer within ${timeoutMs} ms`);
    throw new FetchRefused("unreachable", `the media URL could not be fetched: ${err instanceof Error ? err.message : err}`);
  }
  throw new FetchRefused("too_many_redirects", `more than ${maxRedirects} redirects`);
}

function parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchRefused("bad_url", "not a URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new FetchRefused("bad_url", "only http(s) URLs");
  return parsed;
}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new FetchRefused("too_large", `the file is over the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

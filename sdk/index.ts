/**
 * Pombo's typed client: openapi-fetch over the types openapi-typescript
 * generates from the API's OpenAPI document (schema.d.ts, `npm run sdk`).
 * Nothing here is written by hand but this constructor.
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";
export type PomboClient = Client<paths>;

type Options = Omit<ClientOptions, "baseUrl" | "headers"> & { headers?: Record<string, string> };

/** A client for one project: every call carries `apiKey` (`pb_live_...`). `options` reach openapi-fetch (a custom `fetch`, more headers). */
export function createPomboClient(baseUrl: string, apiKey: string, options: Options = {}): PomboClient {
  return createClient<paths>({ ...options, baseUrl, headers: { ...options.headers, Authorization: `Bearer ${apiKey}` } });
}

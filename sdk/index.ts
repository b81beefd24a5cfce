/**
 * Pombo's typed client: openapi-fetch over the types openapi-typescript
 * generates from the API's OpenAPI document (schema.d.ts, `npm run sdk`).
 * Nothing here is written by hand but this constructor.
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";
export type PomboClient = Client<paths>;

/** A client for one project: every call carries `apiKey` (`pb_live_...`). */
export function createPomboClient(baseUrl: string, apiKey: string, options: Omit<ClientOptions, "baseUrl"> = {}): PomboClient {
  return createClient<paths>({ ...options, baseUrl, headers: { ...options.headers, Authorization: `Bearer ${apiKey}` } });
}

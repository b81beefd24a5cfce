/** `GET /events`: a project's events as Server-Sent Events, served by its hub (see objects/hub.ts). */
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { hubOf } from "../objects/stubs.ts";
import { isKnownFilter } from "./webhooks.ts";

export type StreamRequest = { lastEventId?: string; types?: string };

/** The `types` query (`message.*,instance.disconnected`): the same names and wildcards as webhook filters. */
function parseTypes(types: string): string[] {
  const filters = types
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = filters.filter((f) => !isKnownFilter(f));
  if (unknown.length > 0) {
    throw new ApiError(400, "invalid_request", `types: unknown event type: ${unknown.join(", ")}`, { field: "types", unknown });
  }
  return filters;
}

export async function openEventStream(env: Env, projectId: string, { lastEventId, types }: StreamRequest, signal: AbortSignal) {
  const url = new URL("https://hub/events");
  if (lastEventId !== undefined) url.searchParams.set("after", lastEventId);
  if (types !== undefined) {
    const filters = parseTypes(types);
    if (filters.length > 0) url.searchParams.set("types", filters.join(","));
  }
  // The hub's stream is the answer's body: the client leaving cancels it, and the hub forgets the listener.
  return hubOf(env, projectId).fetch(new Request(url, { signal }));
}

/**
 * What a non-official number cannot do reliably (reference 003), said
 * plainly with a 501: WhatsApp's own labels (`/labels`; the CRM's tags and
 * contact groups are `/tags` and `/contact-groups`), calls (`/calls`) and
 * forwarding (`/messages/forward`).
 */
import { Hono, type Handler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorResponse } from "../errors.ts";

export const notSupported: Handler<AppEnv> = (c) =>
  errorResponse(c, 501, "not_supported", "forwarding, labels and calls are not supported on WhatsApp Web numbers");

/** Every path and method under the prefix it is mounted at. */
export const notSupportedRoutes = new Hono<AppEnv>().all("*", notSupported);

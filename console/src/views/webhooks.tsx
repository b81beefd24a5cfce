/**
 * Webhooks: the project's endpoints (#/webhooks) and one endpoint with its
 * recent deliveries (#/webhooks/<id>).
 */
import type { Route } from "../router.ts";
import { WebhookEndpoint } from "./webhooks/endpoint.tsx";
import { WebhookList } from "./webhooks/list.tsx";

export function WebhooksView({ route }: { route: Route }) {
  const [id] = route.parts;
  return id ? <WebhookEndpoint id={id} /> : <WebhookList />;
}

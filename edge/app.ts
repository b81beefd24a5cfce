/** The Worker's HTTP surface: middleware, who may call which routes, the OpenAPI document and its reference page. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Scalar } from "@scalar/hono-api-reference";
import { bodyLimit } from "hono/body-limit";
import { MediaType } from "../shared/protocol.ts";
import { audience } from "./audiences.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse, onError, validationError } from "./errors.ts";
import { refuseMisconfigured } from "./misconfigured.ts";
import { serveDocument } from "./openapi.ts";
import { bodyGuard } from "./request-body.ts";
import { adminRoutes } from "./routes/admin.ts";
import { adminMetricsRoutes } from "./routes/admin-metrics.ts";
import { contactActionRoutes } from "./routes/contact-actions.ts";
import { contactRoutes } from "./routes/contacts.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { eventRoutes } from "./routes/events.ts";
import { fleetRoutes } from "./routes/fleet.ts";
import { healthRoutes } from "./routes/health.ts";
import { instanceRoutes } from "./routes/instances.ts";
import { mediaRoutes } from "./routes/media.ts";
import { messageRoutes } from "./routes/messages.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { numberRoutes } from "./routes/numbers.ts";
import { notSupportedRoutes } from "./routes/not-supported.ts";
import { poolRoutes } from "./routes/pools.ts";
import { contactProfileRoutes, instanceProfileRoutes } from "./routes/profile.ts";
import { settingsRoutes } from "./routes/settings.ts";
import { statusRoutes } from "./routes/status-posts.ts";
import { suppressionRoutes } from "./routes/suppressions.ts";
import { contactGroupRoutes, tagRoutes } from "./routes/tags-and-contact-groups.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { documentEvents } from "./services/event-catalogue.ts";
import { STATUS_TYPES } from "./services/status-request.ts";
import { whatsappBlockRoutes } from "./routes/whatsapp-block.ts";
import { whatsappGroupRoutes } from "./routes/whatsapp-groups.ts";

const MAX_BODY_BYTES = 1024 * 1024;
/** The largest media file (a 32 MB document) as base64, plus room for the other fields. */
const MAX_MEDIA_BODY_BYTES = 44 * 1024 * 1024;
/** A 10,000-row contact import at up to about 1 KB a row. */
const MAX_IMPORT_BODY_BYTES = 10 * 1024 * 1024;
// Media may come inline as base64: those routes take bodies the size of their largest file.
const MEDIA_SENDS = new Set([
  ...MediaType.options.map((type) => `/messages/${type}`),
  ...STATUS_TYPES.filter((type) => type !== "text").map((type) => `/status/${type}`),
]);
/** A number's new profile picture: the largest image (5 MB) as base64, with room. */
const MAX_PICTURE_BODY_BYTES = 8 * 1024 * 1024;
const PROFILE = /^\/instances\/[^/]+\/profile$/;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Every schema failure becomes our 400, naming the field.
    defaultHook: (result, _c) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });

  app.onError(onError);
  app.notFound((c) => errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request bodies here are limited to ${maxSize} bytes`);
      },
    });
  const maxBody = (path: string) =>
    MEDIA_SENDS.has(path) ? MAX_MEDIA_BODY_BYTES : path === "/contacts/import" ? MAX_IMPORT_BODY_BYTES : PROFILE.test(path) ? MAX_PICTURE_BODY_BYTES : MAX_BODY_BYTES;
  app.use("*", (c, next) => limit(maxBody(c.req.path))(c, next));

  // Public: the only routes that answer without credentials.
  app.route("/", healthRoutes);
  // Production with a secret missing or malformed serves nothing but /health, which says which.
  app.use("*", refuseMisconfigured);
  documentEvents(app.openAPIRegistry);
  serveDocument(app);
  // The reference UI's script is served from the Worker's static assets (scripts/build-assets.ts): /docs works offline.
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Pombo API", cdn: "/docs/scalar.js" }));
  // The static assets themselves: public files (the console asks for its key once loaded). Every request
  // reaches the Worker first (wrangler.toml's run_worker_first), which hands these paths to the assets.
  const asset = (c: Context<AppEnv>) => c.env.ASSETS.fetch(c.req.raw);
  app.get("/console", asset);
  app.get("/console/*", asset);
  app.get("/docs/scalar.js", asset);
  // A received file's signed link: the signature is the credential, so it works in a webhook consumer's browser.
  audience(app, "public").mount("/media", mediaRoutes);

  // Everything else, each prefix behind its audience's credential.
  audience(app, "admin").mount("/admin", adminRoutes, adminMetricsRoutes);
  audience(app, "fleet").mount("/fleet", fleetRoutes);
  audience(app, "project")
    .mount("/instances", instanceRoutes, instanceProfileRoutes)
    .mount("/messages", messageRoutes)
    .mount("/pools", poolRoutes)
    .mount("/settings", settingsRoutes)
    .mount("/webhooks", webhookRoutes)
    .mount("/conversations", conversationRoutes)
    .mount("/contacts", contactRoutes, contactActionRoutes, whatsappBlockRoutes, contactProfileRoutes)
    .mount("/tags", tagRoutes)
    .mount("/contact-groups", contactGroupRoutes)
    .mount("/suppressions", suppressionRoutes)
    .mount("/groups", whatsappGroupRoutes)
    .mount("/numbers", numberRoutes)
    .mount("/status", statusRoutes)
    .mount("/metrics", metricsRoutes)
    .mount("/labels", notSupportedRoutes)
    .mount("/calls", notSupportedRoutes);
  audience(app, "stream").mount("/events", eventRoutes);

  // A path no route answers still has its body held to the same rules before its 404.
  app.use("*", bodyGuard);

  return app;
}

/** The Worker's HTTP surface: middleware, routes, the OpenAPI document and its reference page. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { bodyLimit } from "hono/body-limit";
import { adminAuth, fleetAuth, projectAuth } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse, onError, validationError } from "./errors.ts";
import { bodyGuard } from "./request-body.ts";
import { adminRoutes } from "./routes/admin.ts";
import { contactActionRoutes } from "./routes/contact-actions.ts";
import { contactRoutes } from "./routes/contacts.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { eventRoutes } from "./routes/events.ts";
import { mediaRoutes } from "./routes/media.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { fleetRoutes } from "./routes/fleet.ts";
import { groupRoutes } from "./routes/groups.ts";
import { instanceRoutes } from "./routes/instances.ts";
import { messageRoutes } from "./routes/messages.ts";
import { poolRoutes } from "./routes/pools.ts";
import { settingsRoutes } from "./routes/settings.ts";
import { suppressionRoutes } from "./routes/suppressions.ts";
import { dictionaryRoutes } from "./routes/tags.ts";
import { whatsappBlockRoutes } from "./routes/whatsapp-block.ts";

const MAX_BODY_BYTES = 1024 * 1024;
/** The largest media file (a 32 MB document) as base64, plus room for the other fields. */
const MAX_MEDIA_BODY_BYTES = 44 * 1024 * 1024;
/** A 10,000-row contact import at up to about 1 KB a row. */
const MAX_IMPORT_BODY_BYTES = 10 * 1024 * 1024;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Every schema failure becomes our 400, naming the field.
    defaultHook: (result, _c) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });

  app.onError(onError);
  app.notFound((c) => errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  app.get("/health", (c) => c.json({ ok: true }));

  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request bodies here are limited to ${maxSize} bytes`);
      },
    });
  // Media may come inline as base64: those routes take bodies the size of their largest file.
  const mediaRoute = /^\/messages\/(image|video|document|audio|sticker)$/;
  const maxBody = (path: string) => (mediaRoute.test(path) ? MAX_MEDIA_BODY_BYTES : path === "/contacts/import" ? MAX_IMPORT_BODY_BYTES : MAX_BODY_BYTES);
  app.use("*", (c, next) => limit(maxBody(c.req.path))(c, next));
  app.use("/admin/*", adminAuth);
  app.use("/fleet/*", fleetAuth);
  // `/media/{id}` is not here: its signature is the credential, so links work in a webhook consumer's browser.
  for (const path of ["/instances", "/messages", "/pools", "/settings", "/labels", "/calls", "/webhooks", "/events", "/conversations",
    "/contacts", "/tags", "/contact-groups", "/suppressions", "/groups"]) {
    app.use(path, projectAuth);
    app.use(`${path}/*`, projectAuth);
  }
  // After authentication: an unknown caller's body is never read.
  app.use("*", bodyGuard);

  app.route("/", adminRoutes);
  app.route("/", instanceRoutes);
  app.route("/", messageRoutes);
  app.route("/", poolRoutes);
  app.route("/", settingsRoutes);
  app.route("/", fleetRoutes);
  app.route("/", webhookRoutes);
  app.route("/", eventRoutes);
  app.route("/", conversationRoutes);
  app.route("/", mediaRoutes);
  app.route("/", contactRoutes);
  app.route("/", contactActionRoutes);
  app.route("/", dictionaryRoutes);
  app.route("/", suppressionRoutes);
  app.route("/", groupRoutes);
  app.route("/", whatsappBlockRoutes);
  // What a non-official number cannot do reliably (reference 003): say so plainly.
  for (const path of ["/messages/forward", "/labels", "/labels/*", "/calls", "/calls/*"]) {
    app.all(path, (c) =>
      errorResponse(c, 501, "not_supported", "forwarding, labels and calls are not supported on WhatsApp Web numbers"),
    );
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "A project API key: `Authorization: Bearer pb_live_...`",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Pombo",
      version: "0.1.0",
      description: "A multi-number WhatsApp gateway. Errors are `{ error: { code, message, details? } }`.",
    },
    security: [{ apiKey: [] }],
  });
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Pombo API" }));
  return app;
}

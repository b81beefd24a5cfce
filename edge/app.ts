/** The Worker's HTTP surface: middleware, routes, the OpenAPI document and its reference page. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { bodyLimit } from "hono/body-limit";
import { adminAuth, fleetAuth, projectAuth } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse, onError, validationError } from "./errors.ts";
import { adminRoutes } from "./routes/admin.ts";
import { fleetRoutes } from "./routes/fleet.ts";
import { instanceRoutes } from "./routes/instances.ts";

const MAX_BODY_BYTES = 1024 * 1024;

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

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );
  app.use("/admin/*", adminAuth);
  app.use("/fleet/*", fleetAuth);
  app.use("/instances", projectAuth);
  app.use("/instances/*", projectAuth);

  app.route("/", adminRoutes);
  app.route("/", instanceRoutes);
  app.route("/", fleetRoutes);

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

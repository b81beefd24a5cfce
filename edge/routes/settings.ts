/** /settings: the project's sending rules (pacing, caps, warming, rotation, language, health). */
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errors, json, jsonBody } from "../schemas.ts";
import { getSettings, patchSettings } from "../services/settings.ts";
import { Settings, SettingsChanged, SettingsPatch } from "../services/settings-schema.ts";

const tags = ["Settings"];

export const settingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    createRoute({
      method: "get",
      path: "/settings",
      tags,
      summary: "The project's settings, defaults filled in",
      responses: { 200: json(Settings, "Settings"), 401: errors[401] },
    }),
    async (c) => c.json(await getSettings(c.env, c.var.projectId), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/settings",
      tags,
      summary: "Change some settings (nested objects are merged)",
      request: { body: jsonBody(SettingsPatch) },
      responses: { 200: json(SettingsChanged, "Settings after the change"), 400: errors[400], 401: errors[401] },
    }),
    async (c) => c.json(await patchSettings(c.env, c.var.projectId, c.req.valid("json")), 200),
  );

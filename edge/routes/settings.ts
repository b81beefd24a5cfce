/** /settings: the project's sending rules (pacing, caps, warming, rotation, language, health). */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { getSettings, patchSettings } from "../services/settings.ts";
import { Settings, SettingsChanged, SettingsPatch } from "../services/settings-schema.ts";

const route = operations(["Settings"]);

export const settingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/", "The project's settings, defaults filled in", { responses: { 200: json(Settings, "Settings") } }),
    async (c) => c.json(await getSettings(c.env, c.var.projectId), 200),
  )
  .openapi(
    route.patch("/", "Change some settings (nested objects are merged)", {
      request: { body: jsonBody(SettingsPatch) },
      responses: { 200: json(SettingsChanged, "Settings after the change"), ...errorsOf(400) },
    }),
    async (c) => c.json(await patchSettings(c.env, c.var.projectId, c.req.valid("json")), 200),
  );

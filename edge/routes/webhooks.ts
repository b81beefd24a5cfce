/** STUB (issue 4): replaced by the real routes. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";

export const webhookRoutes = new OpenAPIHono<AppEnv>();

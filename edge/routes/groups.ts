/** STUB (issue 5): replaced by the real routes. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";

export const groupRoutes = new OpenAPIHono<AppEnv>();

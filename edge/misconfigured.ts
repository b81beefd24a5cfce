/**
 * In production, an edge short of a required secret (or given one that is
 * malformed) answers 503 `edge_misconfigured` instead of serving: better a
 * refusal that names the setting than /admin left closed, OTPs refused or
 * tokens anyone could guess. Development serves as it is (edge-config.ts).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { errorResponse } from "./errors.ts";
import { configProblems, isProduction } from "./services/edge-config.ts";

export const refuseMisconfigured: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isProduction(c.env)) return next();
  const { missing, malformed } = configProblems(c.env);
  if (!missing.length && !malformed.length) return next();
  const said = [...missing.map((name) => `${name} is missing`), ...malformed.map((name) => `${name} is malformed`)];
  const field = missing[0] ?? malformed[0];
  return errorResponse(c, 503, "edge_misconfigured", `this edge is not configured: ${said.join(", ")} (GET /health lists them; the operator sets them with npm run deploy)`, {
    field,
    missing,
    malformed,
  });
};

/**
 * Who may call what. Every route is served under its prefix through one
 * audience (`audience(app, "project").mount("/instances", ...)` in app.ts),
 * never on the app directly. A sub-app per prefix runs the audience's
 * credential check before anything else on every path under that prefix,
 * whether a route answers it or not: a route added to a mounted group
 * cannot be served without the credential. Bodies are read only after it
 * (request-body.ts). Each operation in the OpenAPI document names its
 * audience's scheme and its 401. test/edge/access.test.ts walks every
 * route and holds this.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono, MiddlewareHandler } from "hono";
import { adminAuth, fleetAuth, projectAuth, streamAuth } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { bodyGuard } from "./request-body.ts";
import { errors } from "./schemas.ts";

/** The credentials the OpenAPI document names (`components.securitySchemes`). */
export const securitySchemes = {
  apiKey: { type: "http", scheme: "bearer", description: "A project API key: `Authorization: Bearer pb_live_...`" },
  adminToken: { type: "http", scheme: "bearer", description: "The operator's token: `Authorization: Bearer $POMBO_ADMIN_TOKEN`" },
} as const;

type Audience = { auth: MiddlewareHandler<AppEnv> | null; security: Partial<Record<keyof typeof securitySchemes, []>>[] };

const AUDIENCES = {
  /** Anyone. Only app.ts's public block mounts here; such a route carries its own proof (a signed link) or none. */
  public: { auth: null, security: [] },
  /** API clients with a project's key; every query is then scoped to that project. */
  project: { auth: projectAuth, security: [{ apiKey: [] }] },
  /** The event stream: a project's key, or on `GET` a single-use stream token (browsers' EventSource sends no headers). */
  stream: { auth: streamAuth, security: [{ apiKey: [] }] },
  /** The operator, with POMBO_ADMIN_TOKEN. */
  admin: { auth: adminAuth, security: [{ adminToken: [] }] },
  /** Fleet processes, with POMBO_FLEET_TOKEN. Their routes are not in the document. */
  fleet: { auth: fleetAuth, security: [] },
} satisfies Record<string, Audience>;

export type AudienceName = keyof typeof AUDIENCES;

export function audience(app: OpenAPIHono<AppEnv>, name: AudienceName) {
  const { auth, security }: Audience = AUDIENCES[name];
  return {
    /** Serves `groups` (their paths relative to `prefix`, in this order) to this audience alone. */
    mount(prefix: string, ...groups: Hono<AppEnv>[]) {
      const sub = new OpenAPIHono<AppEnv>();
      if (auth) sub.use("*", auth);
      sub.use("*", bodyGuard);
      for (const group of groups) sub.route("/", group);
      // These are the sub-app's own copies of the groups' operations.
      for (const definition of sub.openAPIRegistry.definitions) {
        if (definition.type !== "route") continue;
        definition.route.security = security;
        if (auth) definition.route.responses = { 401: errors[401], ...definition.route.responses };
      }
      app.route(prefix, sub);
      return this;
    },
  };
}

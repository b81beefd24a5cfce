/**
 * CORS, so browser apps can call the API: each project lists the origins
 * allowed to read its answers (`cors_origins` in /settings; none by default).
 *
 * A preflight carries no key, so it cannot tell whose list applies. It is
 * answered for any origin, naming the methods and headers the API takes:
 * that only lets the browser send the request, which the key then
 * authorises as it would from curl (there are no cookies, so a page can
 * send nothing it could not send without a browser). What protects a
 * project is the real answer: it carries Access-Control-Allow-Origin only
 * when the request's origin is on the key's project's list, so a page
 * elsewhere cannot read it. Answers refused before the project is known
 * (401, and the 429 of the key's budget) carry none.
 */
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";
import { getSettings } from "./services/settings.ts";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Project-Id", "Last-Event-ID"];
/** What a browser app needs to read beyond the safelisted headers: when to retry, and whether an answer was replayed. */
const EXPOSED_HEADERS = ["Retry-After", "Idempotent-Replayed"];

const preflight = cors({ origin: (origin) => origin || null, allowMethods: METHODS, allowHeaders: REQUEST_HEADERS, maxAge: 7200 });

/** Answers a preflight (before any credential check); everything else passes on. */
export const corsPreflight = createMiddleware<AppEnv>(async (c, next) => {
  const isPreflight = c.req.method === "OPTIONS" && c.req.header("Origin") && c.req.header("Access-Control-Request-Method");
  return isPreflight ? preflight(c, next) : next();
});

const readable = cors({ origin: (origin) => origin, exposeHeaders: EXPOSED_HEADERS });

/** After the credential check: lets the page read the answer if its origin is on the project's list. */
export const corsAnswer = createMiddleware<AppEnv>(async (c, next) => {
  const origin = c.req.header("Origin");
  // Same origin (the console) needs no CORS, and costs no settings read.
  if (!origin || origin === new URL(c.req.url).origin) return next();
  const { cors_origins } = await getSettings(c.env, c.var.projectId);
  return cors_origins.includes(origin) ? readable(c, next) : next();
});

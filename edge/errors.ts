/**
 * One error shape for the whole API: `{ error: { code, message, details? } }`.
 * Codes are stable (clients branch on them); messages are for humans.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export class ApiError extends Error {
  status: ContentfulStatusCode;
  code: string;
  details?: Record<string, unknown>;

  constructor(status: ContentfulStatusCode, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** An answer that says when to ask again: `Retry-After`, in seconds. */
export class RetryLater extends ApiError {
  retryAfterS: number;

  constructor(status: ContentfulStatusCode, code: string, retryAfterS: number, message: string, details?: Record<string, unknown>) {
    super(status, code, message, details);
    this.retryAfterS = retryAfterS;
  }
}

/** 429 `rate_limited`: a budget is spent; `Retry-After` says in how many seconds it frees. */
export class RateLimited extends RetryLater {
  constructor(retryAfterS: number, message: string, details?: Record<string, unknown>) {
    super(429, "rate_limited", retryAfterS, message, { ...details, retry_after_s: retryAfterS });
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);

/** Turns a failed zod parse into a 400 that names the first offending field. */
export function validationError(error: ZodError, target: string): ApiError {
  const issues = error.issues.map((issue) => ({
    field: issue.path.join(".") || null,
    message: issue.message,
    code: issue.code,
  }));
  const first = issues[0];
  const where = target === "json" ? "body" : target;
  const field = first?.field ?? null;
  const message = field ? `${field}: ${first.message}` : `${where}: ${first?.message ?? "invalid"}`;
  return new ApiError(400, "invalid_request", message, { location: where, field, issues });
}

const httpCodes: Partial<Record<number, [string, string]>> = {
  400: ["invalid_json", "the request body is not valid JSON"],
  404: ["not_found", "no such route"],
  415: ["unsupported_media_type", "send a JSON body with Content-Type: application/json"],
};

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string, details?: unknown) {
  return c.json({ error: details === undefined ? { code, message } : { code, message, details } }, status);
}

export function onError(err: Error, c: Context) {
  if (err instanceof RetryLater) c.header("Retry-After", String(err.retryAfterS));
  if (err instanceof ApiError) return errorResponse(c, err.status, err.code, err.message, err.details);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const [code, message] = httpCodes[status] ?? ["http_error", err.message];
    return errorResponse(c, status, code, message);
  }
  // Anything else is our bug, not the client's: log it (no request bodies, they may hold secrets).
  console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
  return errorResponse(c, 500, "internal", "internal error");
}

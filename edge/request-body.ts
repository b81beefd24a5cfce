/**
 * What every request body must be before any route reads it, checked once
 * for the whole API (app.ts), after the size limit:
 *
 * - UTF-8. Bodies are decoded as UTF-8 everywhere (JSON, the CSV import), so
 *   a body declared in another charset would be read wrongly, not refused:
 *   it is answered 415 instead.
 * - JSON no deeper than MAX_JSON_DEPTH. Nothing the API takes nests deeply,
 *   and a deep body (5,000 levels inside a creds.json) overflows the stack
 *   wherever it is walked or copied (a Durable Object call): 400 here.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

export const MAX_JSON_DEPTH = 64;

const UTF8 = new Set(["utf-8", "utf8"]);
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

export const bodyGuard: MiddlewareHandler = async (c, next) => {
  const contentType = c.req.header("content-type");
  if (!contentType || c.req.method === "GET" || c.req.method === "HEAD") return next();
  const [mediaType = "", ...params] = contentType.split(";").map((part) => part.trim());
  const charset = params.find((p) => /^charset\s*=/i.test(p))?.replace(/^charset\s*=\s*/i, "").replace(/^"|"$/g, "").toLowerCase();
  if (charset !== undefined && !UTF8.has(charset)) {
    throw new ApiError(415, "unsupported_media_type", `request bodies must be UTF-8; got charset=${charset}`, { field: "content-type", charset });
  }
  if (JSON_TYPE.test(mediaType)) {
    const breach = depthBreach(await c.req.text(), MAX_JSON_DEPTH);
    if (breach) {
      const where = breach.field === null ? "" : ` (under "${breach.field}")`;
      throw new ApiError(400, "json_too_deep", `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels${where}`, {
        location: "body",
        field: breach.field,
        max_depth: MAX_JSON_DEPTH,
      });
    }
  }
  return next();
};

/**
 * Where `text` first nests deeper than `max` (the top-level key it is
 * under, if any), or null. One pass without parsing or recursion; strings
 * are skipped whole, so brackets inside them do not count. Malformed JSON
 * is left for the parser to refuse.
 */
export function depthBreach(text: string, max: number): { field: string | null } | null {
  let depth = 0;
  let topKey: string | null = null;
  let lastString: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const end = closingQuote(text, i);
      if (depth === 1) lastString = text.slice(i, end + 1);
      i = end;
    } else if (ch === 0x3a /* : */ && depth === 1 && lastString !== null) {
      topKey = keyOf(lastString);
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (++depth > max) return { field: topKey };
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      depth--;
    }
  }
  return null;
}

function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  while (at !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
  return text.length;
}

function keyOf(token: string): string | null {
  try {
    return JSON.parse(token) as string;
  } catch {
    return null;
  }
}

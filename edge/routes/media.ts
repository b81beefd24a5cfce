/**
 * GET /media/{id}?exp=&sig=: received files (reference 002). Public (no API
 * key, app.ts): the signature is the credential, so a link in a webhook
 * works in a browser, and it dies at `exp`. Answers a 302 to a fresh
 * presigned R2 URL.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { db } from "../db/client.ts";
import { findMediaById } from "../db/media.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { ErrorSchema, IdParam, errorsOf, json, operations } from "../schemas.ts";
import { checkMediaLink } from "../services/media-links.ts";
import { download } from "../services/media-store.ts";

const route = operations(["Media"]);

const LinkQuery = z.object({
  exp: z.string().optional().openapi({ description: "Expiry, Unix seconds." }),
  sig: z.string().optional().openapi({ description: "The link's signature." }),
});

export const mediaRoutes = new OpenAPIHono<AppEnv>().openapi(
  route.get("/{id}", "Download a received file through its signed link", {
    request: { params: IdParam, query: LinkQuery },
    responses: {
      200: { description: "The file (when the edge has no R2 S3 keys to presign with)" },
      302: { description: "Redirect to a presigned R2 URL, valid a few minutes" },
      403: json(ErrorSchema, "Tampered (`invalid_signature`) or expired (`link_expired`) link"),
      ...errorsOf(404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { exp, sig } = c.req.valid("query");
    const check = await checkMediaLink(c.env, id, exp, sig);
    if (check === "invalid") throw new ApiError(403, "invalid_signature", "this media link is not valid");
    if (check === "expired") throw new ApiError(403, "link_expired", "this media link has expired; get a fresh one from the message");
    const row = await findMediaById(db(c.env.DB), id);
    const response = row ? await download(c.env, row) : null;
    if (!response) throw notFound("media");
    return response;
  },
);

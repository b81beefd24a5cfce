/**
 * Variables the edge needs when it runs under `wrangler dev` on this machine
 * (used by `npm start` and the end-to-end tests).
 *
 * Received media goes from the fleet straight into R2 through presigned URLs.
 * wrangler dev serves the bucket's S3 API under `/cdn-cgi/local/r2/s3` with
 * the credentials set in wrangler.toml (`local_dev.experimental_s3_credentials`),
 * so the same presigned-URL path as production runs offline.
 *
 * Names in client URLs are resolved through `dohUrl`, the local responder of
 * local-doh.ts, so the edge checks what this machine's resolver answers.
 */
export const LOCAL_R2_CREDENTIALS = {
  // Must match wrangler.toml's r2_buckets local_dev block.
  accessKeyId: "pombo-local-r2",
  secretAccessKey: "pombo-local-r2-secret",
};

export function localEdgeVars(edgeUrl: string, dohUrl: string): Record<string, string> {
  return {
    POMBO_DOH_URL: dohUrl,
    POMBO_PUBLIC_URL: edgeUrl,
    POMBO_R2_S3_ENDPOINT: `${edgeUrl}/cdn-cgi/local/r2/s3`,
    POMBO_R2_ACCESS_KEY_ID: LOCAL_R2_CREDENTIALS.accessKeyId,
    POMBO_R2_SECRET_ACCESS_KEY: LOCAL_R2_CREDENTIALS.secretAccessKey,
  };
}

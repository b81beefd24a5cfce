/**
 * Where the bytes of a file we send come from: the edge's private bucket,
 * through `GET /fleet/media/{media_id}` (fleet token). A file the edge no
 * longer has is `media_unavailable`; one too big or empty is
 * `invalid_content`; anything else (unreachable, broken off) `send_failed`,
 * which the edge retries.
 */
import { ProtocolError } from "../shared/protocol.ts";
import { errorText } from "./errors.ts";

/** The bytes of a stored media file, by the edge's media id. */
export type FetchMedia = (mediaId: string) => Promise<Buffer>;

/** WhatsApp's own ceiling for media files is around 100 MB (documents may be larger on some clients). */
export const MAX_MEDIA_BYTES = 100 * 1024 * 1024;
/** Download from the edge; with the upload (see outbound-sender.ts) it stays inside the edge's 60 s per send. */
export const MEDIA_FETCH_TIMEOUT_MS = 20_000;

/** Fetches media bytes from the edge's `GET /fleet/media/{media_id}`. */
export function edgeMediaFetcher(opts: {
  edgeUrl: string;
  token: string;
  timeoutMs?: number;
  maxBytes?: number;
  fetch?: typeof fetch;
}): FetchMedia {
  const doFetch = opts.fetch ?? fetch;
  const maxBytes = opts.maxBytes ?? MAX_MEDIA_BYTES;
  return async (mediaId) => {
    // A media id is `{project}/{id}`: each part is a path segment of the route.
    const path = mediaId.split("/").map(encodeURIComponent).join("/");
    const url = `${opts.edgeUrl.replace(/\/+$/, "")}/fleet/media/${path}`;
    let res: Response;
    try {
      res = await doFetch(url, {
        headers: { Authorization: `Bearer ${opts.token}` },
        signal: AbortSignal.timeout(opts.timeoutMs ?? MEDIA_FETCH_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ProtocolError("send_failed", `media ${mediaId} could not be fetched: ${errorText(err)}`);
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new ProtocolError("media_unavailable", `media ${mediaId} is gone`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ProtocolError("send_failed", `media ${mediaId}: the edge answered ${res.status}`);
    }
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new ProtocolError("invalid_content", `media ${mediaId} is larger than ${maxBytes} bytes`);
    }
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw new ProtocolError("send_failed", `media ${mediaId} download broke off: ${errorText(err)}`);
    }
    if (bytes.length > maxBytes) throw new ProtocolError("invalid_content", `media ${mediaId} is larger than ${maxBytes} bytes`);
    if (bytes.length === 0) throw new ProtocolError("invalid_content", `media ${mediaId} is empty`);
    return bytes;
  };
}

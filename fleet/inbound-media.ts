/**
 * Received media: from WhatsApp's servers into the edge's private bucket.
 *
 * The fleet downloads and decrypts the file (Baileys), asks the edge where
 * to put it (`media.upload_url`: a short-lived presigned PUT, so the fleet
 * never holds bucket credentials) and uploads it there. Whatever fails, the
 * message still goes to the edge, with `media_error` saying why the file is
 * missing: a message is never lost for its attachment.
 */
import { type WAMessage, downloadMediaMessage, extractMessageContent, getContentType, getUrlFromDirectPath } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { type InboundMedia, type InboundMessage, type Params, ProtocolError, type Result } from "../shared/protocol.ts";
import type { MediaRequest } from "./inbound-translate.ts";
import { DestinationRefused, guardedDispatcher } from "./net-guard.ts";
import { MAX_MEDIA_BYTES } from "./outbound-media.ts";
import { errorText } from "./errors.ts";

/** Download, edge round trip and upload together; a file that takes longer arrives as `media_error: "timeout"`. */
export const MEDIA_STORE_TIMEOUT_MS = 120_000;

/** The file's bytes, refusing more than `maxBytes`; stops when `signal` aborts. */
export type MediaDownload = (maxBytes: number, signal: AbortSignal) => Promise<Buffer>;

export type StoredMedia = Pick<InboundMessage, "media" | "media_error">;

/** Who hands out presigned PUTs: the instance link, or the edge over HTTP (inbound-courier.ts). */
export type UploadTickets = {
  call(method: "media.upload_url", params: Params<"media.upload_url">): Promise<Result<"media.upload_url">>;
};

export type StoreMediaOptions = {
  link: UploadTickets;
  logger: Logger;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
};

class MediaFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Downloads the file, stores it through the edge, and says what the message should carry. */
export async function storeInboundMedia(
  request: MediaRequest,
  download: MediaDownload,
  opts: StoreMediaOptions,
  log: Record<string, unknown> = {},
): Promise<StoredMedia> {
  const maxBytes = opts.maxBytes ?? MAX_MEDIA_BYTES;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? MEDIA_STORE_TIMEOUT_MS);
  try {
    if (request.declared_size !== null && request.declared_size > maxBytes) {
      throw new MediaFailure("too_large", `declared ${request.declared_size} bytes, more than ${maxBytes}`);
    }
    const bytes = await abortable(
      download(maxBytes, signal).catch((err: unknown) => {
        if (err instanceof MediaFailure) throw err;
        throw new MediaFailure("download_failed", errorText(err));
      }),
      signal,
    );
    if (bytes.length === 0) throw new MediaFailure("download_failed", "the file is empty");
    let target: Result<"media.upload_url">;
    try {
      target = await abortable(
        opts.link.call("media.upload_url", { mime_type: request.mime_type, size: bytes.length, filename: request.filename }),
        signal,
      );
    } catch (err) {
      if (err instanceof MediaFailure) throw err;
      throw new MediaFailure(err instanceof ProtocolError ? err.code : "upload_failed", errorText(err));
    }
    const res = await (opts.fetch ?? fetch)(target.url, {
      method: "PUT",
      headers: target.headers,
      body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
      signal,
    }).catch((err: unknown) => {
      throw new MediaFailure(signal.aborted ? "timeout" : "upload_failed", errorText(err));
    });
    await res.body?.cancel();
    if (!res.ok) throw new MediaFailure("upload_failed", `the bucket answered ${res.status}`);
    const media: InboundMedia = {
      media_id: target.media_id,
      mime_type: request.mime_type,
      filename: request.filename,
      size: bytes.length,
      ptt: request.ptt,
    };
    opts.logger.info({ ...log, media_id: media.media_id, size: media.size }, "received media stored");
    return { media, media_error: null };
  } catch (err) {
    const code = signal.aborted ? "timeout" : err instanceof MediaFailure ? err.code : "upload_failed";
    opts.logger.warn({ ...log, media_error: code, err: errorText(err) }, "received media not stored, delivering the message without it");
    return { media: null, media_error: code };
  }
}

/** Where a received file may be fetched from. */
export type MediaHosts = {
  /** Any host will do (a test server); otherwise only WhatsApp's own, over https. */
  anyHost: boolean;
  /** Private and loopback addresses too (POMBO_ALLOW_PRIVATE_NETWORKS=true). */
  allowPrivate: boolean;
};

/**
 * Why the fleet will not fetch `url`, or null. The sender of a message
 * chooses its `url` and `directPath`, and Baileys fetches
 * `https://<host of url><directPath>`: a directPath of `@127.0.0.1:9/x`
 * makes the host 127.0.0.1. So the URL actually fetched is what is judged:
 * no credentials in it, and a WhatsApp media host unless any host will do.
 * (Its addresses are checked when it is dialed: guardedDispatcher.)
 */
export function mediaUrlRefusal(url: string, hosts: Pick<MediaHosts, "anyHost">): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "the file's URL is not a URL";
  }
  if (parsed.username || parsed.password) return `the file's URL carries credentials, which puts it on ${parsed.hostname}`;
  if (hosts.anyHost) return parsed.protocol === "https:" || parsed.protocol === "http:" ? null : "the file's URL is not http(s)";
  const whatsapp = parsed.hostname === "whatsapp.net" || parsed.hostname.endsWith(".whatsapp.net");
  return parsed.protocol === "https:" && whatsapp ? null : `the file is on ${parsed.protocol}//${parsed.hostname}, not a WhatsApp media host`;
}

/**
 * The URL Baileys' downloadMediaMessage fetches for `msg` (its
 * downloadContentFromMessage: the directPath on the url's host, WhatsApp's
 * default host without one, else the url). Checked before the download; the
 * dispatcher checks every request it really makes, so a drift here cannot
 * open a way around the policy, only make the refusal less clear.
 */
export function mediaDownloadUrl(msg: WAMessage): string | null {
  const content = extractMessageContent(msg.message);
  const type = content ? getContentType(content) : undefined;
  const media = type ? (content![type] as { url?: string | null; directPath?: string | null; thumbnailDirectPath?: string | null }) : null;
  if (!media || typeof media !== "object") return null;
  const directPath = media.directPath ?? (media.url ? null : media.thumbnailDirectPath);
  if (!directPath) return media.url ?? null;
  let host: string | undefined;
  try {
    host = media.url ? new URL(media.url).host : undefined;
  } catch {
    host = undefined;
  }
  return getUrlFromDirectPath(directPath, host);
}

/** Downloads a received message's file with Baileys, asking the sender's phone to upload it again if it expired. */
export function baileysDownload(
  msg: WAMessage,
  reupload: ((msg: WAMessage) => Promise<WAMessage>) | undefined,
  logger: Logger,
  hosts: MediaHosts,
): MediaDownload {
  const check = (message: WAMessage) => {
    const url = mediaDownloadUrl(message);
    const refusal = url ? mediaUrlRefusal(url, hosts) : null;
    if (refusal) throw new MediaFailure("untrusted_media_host", refusal);
  };
  return async (maxBytes, signal) => {
    check(msg);
    // Every request the download makes (redirects, the re-uploaded copy) goes through this: host and addresses checked.
    const dispatcher = guardedDispatcher(hosts.allowPrivate, (origin) => mediaUrlRefusal(origin.href, hosts));
    const checkedReupload = reupload && (async (stale: WAMessage) => {
      const fresh = await reupload(stale);
      check(fresh);
      return fresh;
    });
    try {
      const stream = await abortable(
        downloadMediaMessage(msg, "stream", { options: { dispatcher } as RequestInit }, checkedReupload ? { reuploadRequest: checkedReupload, logger } : undefined),
        signal,
      );
      const abort = () => stream.destroy(new MediaFailure("timeout", "download timed out"));
      signal.addEventListener("abort", abort, { once: true });
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) {
            stream.destroy();
            throw new MediaFailure("too_large", `more than ${maxBytes} bytes`);
          }
          chunks.push(chunk);
        }
      } finally {
        signal.removeEventListener("abort", abort);
      }
      return Buffer.concat(chunks);
    } catch (err) {
      const refused = err instanceof DestinationRefused ? err : (err as { cause?: unknown })?.cause;
      if (refused instanceof DestinationRefused) throw new MediaFailure("untrusted_media_host", refused.message);
      throw err;
    } finally {
      void dispatcher.close().catch(() => {});
    }
  };
}

/** Rejects when `signal` aborts, even if `promise` (a fetch we cannot cancel) never settles. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new MediaFailure("timeout", "timed out"));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new MediaFailure("timeout", "timed out"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

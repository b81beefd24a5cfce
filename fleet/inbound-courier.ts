/**
 * How a received message from the spool reaches the edge: through the
 * number's instance link when this process holds it and it is granted (a
 * frame on an open socket, the quickest way), else over HTTP
 * (`POST /fleet/instances/{id}/received`, fleet token), which needs no
 * lease. A process whose lease moved, or that is draining, still delivers
 * what it holds. Both paths end in the instance object's one receive path,
 * which keeps a message once by its WhatsApp id.
 */
import type { z } from "zod";
import {
  type InboundMessage,
  type LidMapping,
  Methods,
  type Params,
  ProtocolError,
  type Result,
  type SpooledMessage,
} from "../shared/protocol.ts";
import type { EdgeLink } from "./edge-link.ts";
import { mappingBatches } from "./lid-mappings.ts";
import type { UploadTickets } from "./inbound-media.ts";
import { errorText } from "./errors.ts";

export type InboundCourier = {
  deliver(instanceId: string, message: InboundMessage, mappings: LidMapping[]): Promise<Result<"message.received">>;
  /** Where the files of that instance's messages go. */
  tickets(instanceId: string): UploadTickets;
};

export type EdgeCourierOptions = {
  /** The instance's link if this process holds it and it is granted right now, else null. */
  linkFor(instanceId: string): EdgeLink | null;
  edgeUrl: string;
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
};

/** As long as the link's own call waits for an answer. */
const HTTP_TIMEOUT_MS = 30_000;

export function edgeCourier(opts: EdgeCourierOptions): InboundCourier {
  const post = <T extends z.ZodType>(instanceId: string, route: string, body: unknown, result: T) =>
    postJson(opts, `/fleet/instances/${encodeURIComponent(instanceId)}/${route}`, body, result);
  return {
    async deliver(instanceId, message, mappings) {
      const link = opts.linkFor(instanceId);
      if (!link) return post(instanceId, "received", { message, mappings } satisfies SpooledMessage, Methods["message.received"].result);
      // The pairs go first, on every attempt: one sent on a link that then dropped may never have arrived.
      for (const batch of mappingBatches(mappings)) link.emit("lid.mappings", { mappings: batch });
      return link.call("message.received", message);
    },
    tickets: (instanceId) => ({
      call: (_method: "media.upload_url", file: Params<"media.upload_url">) => {
        const link = opts.linkFor(instanceId);
        if (link) return link.call("media.upload_url", file);
        return post(instanceId, "media-upload-url", file, Methods["media.upload_url"].result);
      },
    }),
  };
}

/** Answers as the link would: the result, or a ProtocolError with the edge's error code. */
async function postJson<T extends z.ZodType>(opts: EdgeCourierOptions, path: string, body: unknown, result: T): Promise<z.infer<T>> {
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(`${opts.edgeUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? HTTP_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ProtocolError("unreachable", `the edge could not be reached: ${errorText(err)}`);
  }
  const text = await res.text().catch(() => "");
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // said below
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof error?.code === "string" ? error.code : `http_${res.status}`;
    throw new ProtocolError(code, typeof error?.message === "string" ? error.message : `the edge answered ${res.status}`);
  }
  const parsed = result.safeParse(json);
  if (!parsed.success) throw new ProtocolError("bad_answer", `the edge's answer to ${path} is not what it should be`);
  return parsed.data;
}

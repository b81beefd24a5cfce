/**
 * Received media: WhatsApp's encrypted file -> the edge's presigned PUT.
 * The file server and the bucket are local HTTP servers; the file is
 * encrypted the way WhatsApp encrypts media (Baileys' media keys), so the
 * download is Baileys' real one. Whatever fails, the message keeps going,
 * without the file and with `media_error` set.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { type IncomingMessage, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type WAMessage, getMediaKeys } from "@whiskeysockets/baileys";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager } from "../../fleet/connection.ts";
import type { EdgeLink } from "../../fleet/edge-link.ts";
import type { MediaRequest } from "../../fleet/inbound-translate.ts";
import { type MediaHosts, baileysDownload, mediaDownloadUrl, mediaUrlRefusal, storeInboundMedia } from "../../fleet/inbound-media.ts";
import { type Params, ProtocolError, type Result } from "../../shared/protocol.ts";
import { openManager } from "./fake-manager.ts";
import { until } from "./memory-edge.ts";

const silent = pino({ level: "silent" });
/** The test's media server is any host, on loopback: what the e2e harness allows too. */
const LOCAL_SERVER: MediaHosts = { anyHost: true, allowPrivate: true };
/** WhatsApp proper, as a production fleet sees it. */
const WHATSAPP: MediaHosts = { anyHost: false, allowPrivate: false };

type Put = { path: string; headers: IncomingMessage["headers"]; body: Buffer };

/** WhatsApp's media server (GET, encrypted files) and the bucket (PUT), on one local server. */
let server: ReturnType<typeof createServer>;
let base = "";
const files = new Map<string, Buffer>();
const puts: Put[] = [];
/** Every GET the media server saw. */
const gets: string[] = [];
let putStatus = 200;
let stallGets = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "PUT") {
        puts.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
        return void res.writeHead(putStatus).end();
      }
      gets.push(req.url ?? "");
      if (stallGets) return; // never answers
      const file = files.get(req.url ?? "");
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(file);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterEach(() => {
  puts.length = 0;
  gets.length = 0;
  putStatus = 200;
  stallGets = false;
});

/** An image message whose file is on the local media server, encrypted as WhatsApp does. */
async function imageMessage(plain: Buffer): Promise<WAMessage> {
  const mediaKey = randomBytes(32);
  const { cipherKey, iv } = await getMediaKeys(mediaKey, "image");
  const aes = createCipheriv("aes-256-cbc", cipherKey, iv);
  const encrypted = Buffer.concat([aes.update(plain), aes.final(), randomBytes(10)]); // + the 10-byte MAC
  const path = `/v/t62/${randomBytes(6).toString("hex")}.enc`;
  files.set(path, encrypted);
  return {
    key: { remoteJid: "5511988887777@s.whatsapp.net", fromMe: false, id: `3A0${path.slice(7, 19)}` },
    message: { imageMessage: { url: `${base}${path}`, mediaKey, mimetype: "image/jpeg", fileLength: plain.length } },
  };
}

const request = (over: Partial<MediaRequest> = {}): MediaRequest => ({
  type: "image",
  mime_type: "image/jpeg",
  filename: null,
  ptt: false,
  declared_size: null,
  ...over,
});

/** An edge link that answers `media.upload_url` with a PUT into the local bucket, with signed-looking headers. */
function uploadEdge(answer?: (params: Params<"media.upload_url">) => Result<"media.upload_url">) {
  const asked: Params<"media.upload_url">[] = [];
  const link: EdgeLink = {
    emit: () => {},
    call: (async (_method: string, params: Params<"media.upload_url">) => {
      asked.push(params);
      if (answer) return answer(params);
      return {
        media_id: "proj_1/med_1",
        url: `${base}/bucket/proj_1/med_1?X-Amz-Signature=abc`,
        headers: { "content-type": params.mime_type, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
        expires_at: new Date(Date.now() + 300_000).toISOString(),
      };
    }) as EdgeLink["call"],
  };
  return { link, asked };
}

describe("received media (unit, around the socket)", () => {
  it("downloads and decrypts the file, asks the edge where to put it, PUTs the same bytes with exactly the headers given", async () => {
    const plain = randomBytes(70_000);
    const msg = await imageMessage(plain);
    const edge = uploadEdge();
    const stored = await storeInboundMedia(request({ declared_size: plain.length }), baileysDownload(msg, undefined, silent, LOCAL_SERVER), {
      link: edge.link,
      logger: silent,
    });
    expect(stored).toEqual({
      media: { media_id: "proj_1/med_1", mime_type: "image/jpeg", filename: null, size: plain.length, ptt: false },
      media_error: null,
    });
    expect(edge.asked).toEqual([{ mime_type: "image/jpeg", size: plain.length, filename: null }]);
    expect(puts).toHaveLength(1);
    expect(puts[0]!.path).toBe("/bucket/proj_1/med_1?X-Amz-Signature=abc");
    expect(puts[0]!.headers["content-type"]).toBe("image/jpeg");
    expect(puts[0]!.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    expect(puts[0]!.body.equals(plain)).toBe(true);
  });

  it("a file WhatsApp no longer serves: media_error download_failed, the edge is never asked", async () => {
    const msg = await imageMessage(randomBytes(100));
    files.clear();
    const edge = uploadEdge();
    const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, LOCAL_SERVER), { link: edge.link, logger: silent });
    expect(stored).toEqual({ media: null, media_error: "download_failed" });
    expect(edge.asked).toEqual([]);
  });

  it("the edge has nowhere to put it (media_unavailable): that code is the media_error, nothing is uploaded", async () => {
    const msg = await imageMessage(randomBytes(100));
    const edge = uploadEdge(() => {
      throw new ProtocolError("media_unavailable", "bucket not configured");
    });
    const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, LOCAL_SERVER), { link: edge.link, logger: silent });
    expect(stored).toEqual({ media: null, media_error: "media_unavailable" });
    expect(puts).toEqual([]);
  });

  it("the bucket refuses the PUT (an expired or tampered signature): upload_failed", async () => {
    putStatus = 403;
    const msg = await imageMessage(randomBytes(100));
    const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, LOCAL_SERVER), { link: uploadEdge().link, logger: silent });
    expect(stored).toEqual({ media: null, media_error: "upload_failed" });
    expect(puts).toHaveLength(1);
  });

  it("too large: refused on the declared size without downloading, and cut off while downloading when the size lied", async () => {
    const download = vi.fn(async () => Buffer.alloc(1));
    const edge = uploadEdge();
    expect(await storeInboundMedia(request({ declared_size: 2_000 }), download, { link: edge.link, logger: silent, maxBytes: 1_000 })).toEqual({
      media: null,
      media_error: "too_large",
    });
    expect(download).not.toHaveBeenCalled();

    const msg = await imageMessage(randomBytes(50_000));
    const stored = await storeInboundMedia(request({ declared_size: 10 }), baileysDownload(msg, undefined, silent, LOCAL_SERVER), {
      link: edge.link,
      logger: silent,
      maxBytes: 20_000,
    });
    expect(stored).toEqual({ media: null, media_error: "too_large" });
    expect(edge.asked).toEqual([]);
  });

  it("a download that hangs times out: the message goes on without the file", async () => {
    stallGets = true;
    const msg = await imageMessage(randomBytes(100));
    const started = Date.now();
    const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, LOCAL_SERVER), {
      link: uploadEdge().link,
      logger: silent,
      timeoutMs: 200,
    });
    expect(stored).toEqual({ media: null, media_error: "timeout" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("files are fetched only from WhatsApp's media hosts over https, with no credentials in the URL (a sender chooses it), unless any host will do", () => {
    const whatsapp = { anyHost: false };
    expect(mediaUrlRefusal("https://mmg.whatsapp.net/v/t62.7118-24/abc.enc", whatsapp)).toBeNull();
    expect(mediaUrlRefusal("http://mmg.whatsapp.net/v/abc.enc", whatsapp)).toMatch(/not a WhatsApp media host/);
    expect(mediaUrlRefusal("https://169.254.169.254/latest/meta-data", whatsapp)).toMatch(/169\.254\.169\.254/);
    expect(mediaUrlRefusal("https://evilwhatsapp.net/x", whatsapp)).not.toBeNull();
    expect(mediaUrlRefusal("https://mmg.whatsapp.net.evil.test/x", whatsapp)).not.toBeNull();
    expect(mediaUrlRefusal("https://mmg.whatsapp.net@127.0.0.1:9/x", whatsapp)).toMatch(/credentials.*127\.0\.0\.1/);
    expect(mediaUrlRefusal("http://127.0.0.1:9000/file", { anyHost: true })).toBeNull();
    expect(mediaUrlRefusal("http://u:p@127.0.0.1:9000/file", { anyHost: true })).toMatch(/credentials/);
  });

  it("a directPath that moves the host (`@127.0.0.1:<port>/x` after mmg.whatsapp.net) is refused before anything is fetched (unit, around the socket)", async () => {
    const msg = await imageMessage(randomBytes(100));
    const image = msg.message!.imageMessage!;
    const path = new URL(image.url!).pathname;
    image.url = `https://mmg.whatsapp.net${path}`;
    image.directPath = `@${new URL(base).host}${path}`;
    // What Baileys would fetch: WhatsApp's host as userinfo, the test server as the host.
    expect(mediaDownloadUrl(msg)).toBe(`https://mmg.whatsapp.net@${new URL(base).host}${path}`);
    const edge = uploadEdge();
    const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, WHATSAPP), { link: edge.link, logger: silent });
    expect(stored).toEqual({ media: null, media_error: "untrusted_media_host" });
    expect(gets).toEqual([]);
    expect(edge.asked).toEqual([]);
  });

  it("a file on a loopback address, by number or by name, is never fetched while private networks are not allowed, even from a test server", async () => {
    const edge = uploadEdge();
    for (const host of ["127.0.0.1", "localhost"]) {
      const msg = await imageMessage(randomBytes(100));
      const image = msg.message!.imageMessage!;
      image.url = image.url!.replace("127.0.0.1", host);
      const stored = await storeInboundMedia(request(), baileysDownload(msg, undefined, silent, { anyHost: true, allowPrivate: false }), {
        link: edge.link,
        logger: silent,
      });
      expect(stored, host).toEqual({ media: null, media_error: "untrusted_media_host" });
    }
    expect(gets).toEqual([]);
    expect(edge.asked).toEqual([]);
  });
});

describe("received media through the connection manager (unit, around the socket)", () => {
  const managers: ConnectionManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  it("a media message whose file cannot be fetched still reaches the edge, with media_error and its caption", async () => {
    const cipher = new SessionCipher("media unit session key");
    const instanceId = "inst_media_unit";
    // No waUrl: this is WhatsApp proper, so a file on a local address is not fetched.
    const { edge, manager, sock } = await openManager({ instanceId: "inst_media_unit", cipher: new SessionCipher("media unit session key"), me: { id: "5511999990001:3@s.whatsapp.net" } });
    managers.push(manager);
    const msg = await imageMessage(randomBytes(100));
    (msg.message!.imageMessage as { caption?: string }).caption = "comprovante";
    sock.ev.emit("messages.upsert", { type: "notify", messages: [msg] });
    await until(() => edge.stored.size === 1, 3_000, "stored");
    expect([...edge.stored.values()][0]).toMatchObject({
      type: "image",
      body: "comprovante",
      media: null,
      media_error: "untrusted_media_host",
    });
    expect(edge.uploadRequests).toEqual([]);
  });
});

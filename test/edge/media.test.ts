/**
 * Received media: the presigned PUT the fleet asks for, the file arriving
 * with its message, and `GET /media/{id}` behind its signed link.
 *
 * The workerd test runner does not serve R2's S3 endpoint, so here the
 * presigned URLs are checked for what they sign (method, key, expiry,
 * headers), and downloads go the no-credentials way (streamed from the
 * MEDIA binding). The real PUT and the 302 download run in the e2e suite
 * against wrangler dev's S3 endpoint.
 */
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { findMedia } from "../../edge/db/media.ts";
import { mediaLink } from "../../edge/services/media-links.ts";
import { DOWNLOAD_TTL_S, UPLOAD_TTL_S, download, uploadTicket } from "../../edge/services/media-store.ts";
import { call, connectedFleet, deliver, eventsUntil, inboundMessage, newInstance, newProject, useFleetSockets } from "./helpers.ts";

useFleetSockets();

const CUSTOMER = "5511988887777@s.whatsapp.net";
const S3 = {
  POMBO_R2_S3_ENDPOINT: "http://127.0.0.1:8787/cdn-cgi/local/r2/s3",
  POMBO_R2_ACCESS_KEY_ID: "pombo-local-r2",
  POMBO_R2_SECRET_ACCESS_KEY: "pombo-local-r2-secret",
  POMBO_R2_BUCKET: "pombo-media",
};
const withS3 = { ...env, ...S3 };

async function setup() {
  const { api_key: key, id: projectId } = await newProject();
  const instance = await newInstance(key);
  const fleet = await connectedFleet(instance.id);
  return { key, projectId, id: instance.id, fleet };
}

/** What the fleet's presigned PUT does, done straight on the bucket (the test runner serves no S3 endpoint). */
async function upload(projectId: string, instanceId: string, bytes: Uint8Array, file: { mime_type: string; filename: string | null }) {
  const ticket = await uploadTicket(withS3, { project_id: projectId, instance_id: instanceId }, { ...file, size: 1 });
  const row = await findMedia(db(env.DB), projectId, ticket.media_id);
  await env.MEDIA.put(row!.r2_key, bytes, { httpMetadata: { contentType: file.mime_type } });
  return ticket.media_id;
}

const raw = (path: string) => call(path.replace(/^https?:\/\/[^/]+/, ""));

describe("where the fleet puts a received file", () => {
  it("refuses with media_unavailable when the edge has no R2 S3 keys to presign with", async () => {
    const { fleet } = await setup();
    const res = await fleet.socket.request("media.upload_url", { mime_type: "image/jpeg", size: 1234, filename: null });
    expect(res).toMatchObject({ ok: false, error: { code: "media_unavailable" } });
  });

  it("presigns a short-lived PUT for one private key per file, with the content type signed in", async () => {
    const { projectId, id } = await setup();
    const before = Date.now();
    const one = await uploadTicket(withS3, { project_id: projectId, instance_id: id }, { mime_type: "audio/ogg; codecs=opus", size: 4096, filename: "voz.ogg" });
    const two = await uploadTicket(withS3, { project_id: projectId, instance_id: id }, { mime_type: "audio/ogg; codecs=opus", size: 4096, filename: "voz.ogg" });
    expect(one.media_id).not.toBe(two.media_id);

    const url = new URL(one.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${S3.POMBO_R2_S3_ENDPOINT}/${S3.POMBO_R2_BUCKET}/in/${projectId}/${one.media_id}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe(String(UPLOAD_TTL_S));
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^pombo-local-r2\/\d{8}\/auto\/s3\/aws4_request$/);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("content-type;host");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(new URL(two.url).searchParams.get("X-Amz-Signature")).not.toBe(url.searchParams.get("X-Amz-Signature"));
    expect(one.headers).toEqual({ "content-type": "audio/ogg; codecs=opus" });
    expect(Date.parse(one.expires_at) - before).toBeGreaterThanOrEqual(UPLOAD_TTL_S * 1000 - 1000);
    expect(Date.parse(one.expires_at) - before).toBeLessThanOrEqual(UPLOAD_TTL_S * 1000 + 5000);
    // The secret never rides in the URL.
    expect(one.url).not.toContain(S3.POMBO_R2_SECRET_ACCESS_KEY);

    // A PUT and a GET of the same key are signed differently: an upload link cannot read, nor a download link write.
    const row = await findMedia(db(env.DB), projectId, one.media_id);
    const redirect = await download(withS3, row!);
    const get = new URL(redirect!.headers.get("location")!);
    expect(get.pathname).toBe(url.pathname);
    expect(get.searchParams.get("X-Amz-Signature")).not.toBe(url.searchParams.get("X-Amz-Signature"));
  });
});

describe("a received file", () => {
  it("arrives with its message: size from the bucket, a signed link that streams the same bytes", async () => {
    const { key, projectId, id, fleet } = await setup();
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) % 256);
    const mediaId = await upload(projectId, id, bytes, { mime_type: "audio/ogg; codecs=opus", filename: null });
    const res = await deliver(
      fleet.socket,
      inboundMessage(CUSTOMER, { type: "audio", body: null, media: { media_id: mediaId, mime_type: "audio/ogg; codecs=opus", filename: null, size: 99, ptt: true } }),
    );

    const [event] = (await eventsUntil(key, (e) => e.some((x) => x.type === "message.received"))).filter((e) => e.type === "message.received");
    expect(event.payload).toMatchObject({ message_id: res.message_id, type: "audio", media: { id: mediaId, mime_type: "audio/ogg; codecs=opus", filename: null, size: 3000, ptt: true } });
    const link: string = event.payload.media.url;
    expect(link).toMatch(new RegExp(`/media/${mediaId}\\?exp=\\d+&sig=[\\w-]+$`));

    // No API key needed: the link is the credential.
    const got = await fetchRaw(link);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("audio/ogg; codecs=opus");
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);

    // The history signs it afresh.
    const [entry] = (await call(`/conversations/${CUSTOMER}/messages`, { token: key })).json.data;
    expect(entry.media).toMatchObject({ id: mediaId, size: 3000 });
    expect((await fetchRaw(entry.media.url)).status).toBe(200);
  });

  it("refuses tampered and expired links with 403, and answers 404 for a signed id that is not a file", async () => {
    const { projectId, id } = await setup();
    const mediaId = await upload(projectId, id, new Uint8Array([1, 2, 3]), { mime_type: "image/jpeg", filename: "foto.jpg" });
    const link = await mediaLink(env, mediaId);

    const tampered = link.replace(/sig=(.)/, (_m, c: string) => `sig=${c === "A" ? "B" : "A"}`);
    const res = await raw(tampered);
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("invalid_signature");
    // Moving the expiry breaks the signature too.
    const stretched = link.replace(/exp=(\d+)/, (_m, exp: string) => `exp=${Number(exp) + 3600}`);
    expect((await raw(stretched)).json.error.code).toBe("invalid_signature");
    expect((await raw(`/media/${mediaId}`)).json.error.code).toBe("invalid_signature");
    // Another file's signature does not open this one.
    const other = await mediaLink(env, crypto.randomUUID());
    expect((await raw(other.replace(/\/media\/[^?]+/, `/media/${mediaId}`))).status).toBe(403);

    const expired = await mediaLink(env, mediaId, Date.now() - 2 * 86_400_000);
    const old = await raw(expired);
    expect(old.status).toBe(403);
    expect(old.json.error.code).toBe("link_expired");

    const ghost = await raw(await mediaLink(env, crypto.randomUUID()));
    expect(ghost.status).toBe(404);
    expect((await fetchRaw(link)).headers.get("content-disposition")).toBe("inline; filename*=UTF-8''foto.jpg");
  });

  it("redirects to a short-lived presigned GET naming the file's type and name, when the edge can presign", async () => {
    const { projectId, id } = await setup();
    const mediaId = await upload(projectId, id, new Uint8Array([9]), { mime_type: "application/pdf", filename: "nota fiscal.pdf" });
    const row = await findMedia(db(env.DB), projectId, mediaId);
    const res = await download(withS3, row!);
    expect(res!.status).toBe(302);
    const location = new URL(res!.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(`${S3.POMBO_R2_S3_ENDPOINT}/${S3.POMBO_R2_BUCKET}/in/${projectId}/${mediaId}`);
    expect(location.searchParams.get("X-Amz-Expires")).toBe(String(DOWNLOAD_TTL_S));
    expect(location.searchParams.get("response-content-type")).toBe("application/pdf");
    expect(location.searchParams.get("response-content-disposition")).toBe("inline; filename*=UTF-8''nota%20fiscal.pdf");
  });

  it("still delivers the message, without the file and saying why, when the file never reached the bucket", async () => {
    const { key, projectId, id, fleet } = await setup();
    const ticket = await uploadTicket(withS3, { project_id: projectId, instance_id: id }, { mime_type: "image/jpeg", size: 10, filename: null });
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { type: "image", body: "olha", media: { media_id: ticket.media_id, mime_type: "image/jpeg", filename: null, size: 10 } }));
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { type: "image", body: "de novo", media: null, media_error: "download_failed" }));
    // Someone else's file id is no file of this project's.
    const other = await setup();
    const foreign = await upload(other.projectId, other.id, new Uint8Array([1]), { mime_type: "image/jpeg", filename: null });
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { type: "image", body: "alheio", media: { media_id: foreign, mime_type: "image/jpeg", filename: null, size: 1 } }));

    const events = (await eventsUntil(key, (e) => e.filter((x) => x.type === "message.received").length >= 3)).filter((e) => e.type === "message.received");
    expect(events.map((e) => [e.payload.body, e.payload.media, e.payload.media_error])).toEqual([
      ["olha", undefined, "media_not_uploaded"],
      ["de novo", undefined, "download_failed"],
      ["alheio", undefined, "media_not_found"],
    ]);
  });
});

/** Follows a media link the way a browser would: no API key. */
function fetchRaw(link: string) {
  return exports.default.fetch(new Request(link.replace(/^https?:\/\/[^/]+/, "http://pombo.test"), { redirect: "manual" }));
}

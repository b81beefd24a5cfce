/**
 * Profiles through the connection manager, around the socket: the loopback
 * peer has no profile pictures (no picture upload, no CDN to download one
 * from) and no app state to set a name with. Name and about are also tested
 * against the peer (test/e2e/profile.test.ts). WhatsApp's refusals are
 * thrown the way Baileys throws them (`assertNodeErrorFree`), and pictures
 * are downloaded over real HTTP from a local server standing in for
 * WhatsApp's CDN.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { assertNodeErrorFree } from "@whiskeysockets/baileys";
import { afterEach, describe, expect, it } from "vitest";
import { SessionCipher } from "../../fleet/cipher.ts";
import type { ConnectionManager, ConnectionManagerOptions } from "../../fleet/connection.ts";
import { Methods, ProtocolError } from "../../shared/protocol.ts";
import { openManager } from "./fake-manager.ts";

const cipher = new SessionCipher("profile unit session key");
const instanceId = "inst_profile_unit";
const ME = "5511999990001@s.whatsapp.net";
const CUSTOMER = "5511988887777@s.whatsapp.net";
const JPEG = Buffer.from("ffd8ffe000104a464946000101 a picture", "latin1");

const managers: ConnectionManager[] = [];
const servers: { close(): void }[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  for (const server of servers.splice(0)) server.close();
});

async function connected(layers?: Pick<ConnectionManagerOptions, "fetchMedia" | "mediaHosts">) {
  const open = await openManager({ instanceId, cipher, me: { id: "5511999990001:3@s.whatsapp.net", name: "Loja Centro" }, layers });
  managers.push(open.manager);
  return { ...open, call: open.edge.edge.call.bind(open.edge.edge) };
}

/** A stand-in for WhatsApp's picture CDN on loopback, counting the requests it got. */
async function pictureServer() {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    res.writeHead(200, { "Content-Type": "image/jpeg" }).end(JPEG);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v/t61/pic.jpg?oe=1`, requests };
}

/** What Baileys throws for an iq WhatsApp answered with an error (`assertNodeErrorFree`). */
function whatsAppRefusal(code: string, text: string): Error {
  try {
    assertNodeErrorFree({ tag: "iq", attrs: { type: "error" }, content: [{ tag: "error", attrs: { code, text } }] });
  } catch (err) {
    return err as Error;
  }
  throw new Error("assertNodeErrorFree threw nothing");
}

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "no error";
  } catch (err) {
    return err instanceof ProtocolError ? `${err.code}: ${err.message}` : String(err);
  }
};

describe("profiles (unit, around the socket: the peer has no pictures and no app state)", () => {
  it("profile.get answers the session's name, WhatsApp's about and the picture link, by the number's bare JID", async () => {
    const { sock, call } = await connected();
    sock.abouts.set(ME, "Seg a sex, 9h às 18h");
    sock.pictures.set(ME, "https://pps.whatsapp.net/v/t61/me.jpg?oe=1");
    const answer = await call("profile.get", {});
    expect(Methods["profile.get"].result.parse(answer)).toEqual(answer);
    expect(answer.profile).toEqual({
      jid: ME,
      name: "Loja Centro",
      about: "Seg a sex, 9h às 18h",
      about_set_at: "2026-09-21T14:13:20.000Z",
      picture_url: "https://pps.whatsapp.net/v/t61/me.jpg?oe=1",
    });
    // No picture (WhatsApp's 404) and no about are null, not errors.
    sock.pictures.clear();
    sock.abouts.clear();
    expect((await call("profile.get", {})).profile).toMatchObject({ about: null, about_set_at: null, picture_url: null });
  });

  it("profile.set changes name, about and picture (the bytes the edge holds, on the number's own JID), then answers the new profile", async () => {
    const fetched: string[] = [];
    const { sock, call } = await connected({ fetchMedia: async (id) => (fetched.push(id), JPEG) });
    const answer = await call("profile.set", { name: "Loja Sul", about: "Aberto 24h", picture: { media_id: "proj/pic" } });
    expect(fetched).toEqual(["proj/pic"]);
    expect(sock.profileChanges).toEqual([{ name: "Loja Sul" }, { about: "Aberto 24h" }, { picture: JPEG, jid: ME }]);
    expect(answer.profile).toMatchObject({ jid: ME, name: "Loja Sul", about: "Aberto 24h" });

    await call("profile.set", { picture: null });
    expect(sock.profileChanges.at(-1)).toEqual({ removePicture: ME });
  });

  it("profile.set with a picture the edge no longer has changes nothing; an image Baileys cannot read is invalid_picture", async () => {
    const { sock, call } = await connected({
      fetchMedia: async () => {
        throw new ProtocolError("media_unavailable", "media proj/pic is gone");
      },
    });
    expect(await errorOf(call("profile.set", { name: "Loja Sul", picture: { media_id: "proj/pic" } }))).toBe("media_unavailable: media proj/pic is gone");
    expect(sock.profileChanges).toEqual([]);

    const other = await connected({ fetchMedia: async () => JPEG });
    other.sock.failNextQuery = new Error("Input buffer contains unsupported image format");
    expect(await errorOf(other.call("profile.set", { picture: { media_id: "proj/pic" } }))).toBe("invalid_picture: Input buffer contains unsupported image format");
  });

  it("profile.contact answers someone's about and picture link; a group is invalid_jid; a socket that drops is not_connected", async () => {
    const { sock, call } = await connected();
    sock.abouts.set(CUSTOMER, "Disponível");
    sock.pictures.set(CUSTOMER, "hidden");
    expect((await call("profile.contact", { jid: "5511988887777:2@s.whatsapp.net" })).profile).toEqual({
      jid: CUSTOMER,
      name: null,
      about: "Disponível",
      about_set_at: "2026-09-21T14:13:20.000Z",
      picture_url: null,
    });
    expect(await errorOf(call("profile.contact", { jid: "120363041234567890@g.us" }))).toMatch(/^invalid_jid: /);
    sock.failNextQuery = Object.assign(new Error("Connection Closed"), { isBoom: true, output: { statusCode: 428 } });
    expect(await errorOf(call("profile.contact", { jid: CUSTOMER }))).toMatch(/^not_connected: /);
  });

  it("profile.picture downloads the picture from the CDN link WhatsApp gives; none or hidden by privacy is null", async () => {
    const cdn = await pictureServer();
    const { sock, call } = await connected({ mediaHosts: { anyHost: true, allowPrivate: true } });
    sock.pictures.set(CUSTOMER, cdn.url);
    const answer = await call("profile.picture", { jid: CUSTOMER });
    expect(Methods["profile.picture"].result.parse(answer)).toEqual(answer);
    expect(answer).toEqual({ jid: CUSTOMER, base64: JPEG.toString("base64"), mime_type: "image/jpeg" });
    expect(cdn.requests).toEqual(["/v/t61/pic.jpg?oe=1"]);

    sock.pictures.set(CUSTOMER, "hidden");
    expect(await call("profile.picture", { jid: CUSTOMER })).toEqual({ jid: CUSTOMER, base64: null, mime_type: null });
    sock.pictures.delete(CUSTOMER);
    expect(await call("profile.picture", { jid: CUSTOMER })).toEqual({ jid: CUSTOMER, base64: null, mime_type: null });
  });

  it("profile.picture: WhatsApp's rate-overlimit is rate_overlimit (the edge backs off for minutes), other refusals stay profile_failed", async () => {
    const { sock, call } = await connected({ mediaHosts: { anyHost: true, allowPrivate: true } });
    sock.failNextQuery = whatsAppRefusal("429", "rate-overlimit");
    expect(await errorOf(call("profile.picture", { jid: CUSTOMER }))).toBe("rate_overlimit: picture: rate-overlimit");
    sock.failNextQuery = whatsAppRefusal("500", "internal-server-error");
    expect(await errorOf(call("profile.picture", { jid: CUSTOMER }))).toMatch(/^profile_failed: picture: internal-server-error/);
  });

  it("profile.picture fetches only from WhatsApp's hosts, and never from a private address unless allowed", async () => {
    const cdn = await pictureServer();
    const whatsappOnly = await connected();
    whatsappOnly.sock.pictures.set(CUSTOMER, cdn.url);
    expect(await errorOf(whatsappOnly.call("profile.picture", { jid: CUSTOMER }))).toMatch(/^picture_failed: the file is on http:\/\/127\.0\.0\.1, not a WhatsApp media host/);

    const anyHostPublicOnly = await connected({ mediaHosts: { anyHost: true, allowPrivate: false } });
    anyHostPublicOnly.sock.pictures.set(CUSTOMER, cdn.url);
    expect(await errorOf(anyHostPublicOnly.call("profile.picture", { jid: CUSTOMER }))).toMatch(/^picture_failed: .*(private|loopback)/i);
    expect(cdn.requests).toEqual([]);
  });
});

/**
 * Profiles through a number: its own (name, about, picture: `profile.get`,
 * `profile.set`), someone else's as this number may see it
 * (`profile.contact`), and someone's picture itself (`profile.picture`),
 * which the edge keeps as the contact's avatar.
 *
 * Thin around Baileys' chats socket: `updateProfileName` (an app-state
 * `pushNameSetting` patch), `updateProfileStatus` (iq `status`),
 * `updateProfilePicture` / `removeProfilePicture` (iq `w:profile:picture`;
 * Baileys makes the 640×640 JPEG WhatsApp wants), `fetchStatus` (usync
 * `status`) and `profilePictureUrl` (iq `w:profile:picture` get). Each is
 * asked as socket-ask.ts says.
 *
 * The picture itself is downloaded here, not at the edge: its URL is
 * WhatsApp's CDN (`pps.whatsapp.net`), reached like a received file's
 * (only a WhatsApp host, every request's addresses checked: net-guard.ts),
 * from where the number's traffic to WhatsApp already comes from.
 */
import { isLidUser, isPnUser, jidNormalizedUser } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import { MAX_AVATAR_BYTES, ProtocolError, type Result, type WhatsAppProfile } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import { errorText } from "./errors.ts";
import { type MediaHosts, mediaUrlRefusal } from "./inbound-media.ts";
import { DestinationRefused, guardedDispatcher } from "./net-guard.ts";
import type { FetchMedia } from "./outbound-media.ts";
import { type Ask, askOpenSocket } from "./socket-ask.ts";
import type { SocketLike, Sockets } from "./wa-socket.ts";
import { whatsAppCode } from "./whatsapp-groups.ts";

/** A picture download from WhatsApp's CDN: small files, so a short bound. */
const PICTURE_TIMEOUT_MS = 15_000;

export type ProfileOptions = {
  sockets: Sockets;
  logger: Logger;
  fetchMedia?: FetchMedia;
  /** Where pictures may be downloaded from (a test server's own host, private addresses). */
  mediaHosts?: MediaHosts;
  fetch?: typeof fetch;
};

export class Profiles {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "profile.get": () => this.own(),
    "profile.set": (params) => this.set(params),
    "profile.contact": ({ jid }) => this.contact(jid),
    "profile.picture": ({ jid }) => this.picture(jid),
  };
  readonly #opts: ProfileOptions;
  readonly #hosts: MediaHosts;

  constructor(opts: ProfileOptions) {
    this.#opts = opts;
    this.#hosts = opts.mediaHosts ?? { anyHost: false, allowPrivate: false };
  }

  /** The number's own profile: the name from its session, about and picture asked of WhatsApp. */
  async own(): Promise<Result<"profile.get">> {
    const sock = this.#opts.sockets.open();
    return { profile: await this.#profileOf(ownJid(sock), sock.user?.name || null) };
  }

  async set(params: { name?: string; about?: string; picture?: { media_id: string } | null }): Promise<Result<"profile.set">> {
    const { name, about, picture } = params;
    // The file first: a picture the edge cannot hand over changes nothing.
    const bytes = picture ? await this.#mediaBytes(picture.media_id) : null;
    if (name !== undefined) await this.#ask("name", { ask: (sock) => sock.updateProfileName(name) });
    if (about !== undefined) await this.#ask("about", { ask: (sock) => sock.updateProfileStatus(about) });
    if (bytes) {
      await this.#ask("picture", { ask: (sock) => sock.updateProfilePicture(ownJid(sock), bytes), error: pictureError });
    } else if (picture === null) {
      await this.#ask("picture", { ask: (sock) => sock.removeProfilePicture(ownJid(sock)) });
    }
    this.#opts.logger.info({ name: name !== undefined, about: about !== undefined, picture: picture === undefined ? "same" : picture ? "set" : "removed" }, "profile changed");
    const sock = this.#opts.sockets.open();
    // The app-state patch that sets the name updates the session's name only once WhatsApp echoes it.
    return { profile: await this.#profileOf(ownJid(sock), name ?? (sock.user?.name || null)) };
  }

  /** Someone's about and picture link, as this number may see them. */
  async contact(jid: string): Promise<Result<"profile.contact">> {
    return { profile: await this.#profileOf(personJid(jid), null) };
  }

  /** Someone's picture bytes, or null when they have none or hide it from this number. */
  async picture(jid: string): Promise<Result<"profile.picture">> {
    const target = personJid(jid);
    const url = await this.#pictureUrl(target, pictureQueryError);
    if (!url) return { jid: target, base64: null, mime_type: null };
    const bytes = await this.#download(url);
    // WhatsApp serves profile pictures as JPEG (Baileys makes them so on upload, as WhatsApp's apps do).
    return { jid: target, base64: bytes.toString("base64"), mime_type: "image/jpeg" };
  }

  async #profileOf(jid: string, name: string | null): Promise<WhatsAppProfile> {
    const [status, picture_url] = await Promise.all([
      this.#ask("about", { ask: (sock) => sock.fetchStatus(jid) }),
      this.#pictureUrl(jid),
    ]);
    const about = (status?.find((entry) => entry.id === jid) ?? status?.[0])?.status as { status?: string | null; setAt?: Date } | undefined;
    const setAt = about?.setAt instanceof Date && about.setAt.getTime() > 0 ? about.setAt.toISOString() : null;
    return { jid, name, about: about?.status || null, about_set_at: about?.status ? setAt : null, picture_url };
  }

  /** WhatsApp's link to the full-size picture; null when there is none (404) or privacy hides it (401, 403): an answer, not a failure. */
  #pictureUrl(jid: string, error?: (err: unknown) => ProtocolError): Promise<string | null> {
    return this.#ask("picture", {
      error,
      ask: async (sock) => {
        try {
          return (await sock.profilePictureUrl(jid, "image")) ?? null;
        } catch (err) {
          if (NO_PICTURE.has(whatsAppCode(err) ?? 0)) return null;
          throw err;
        }
      },
    });
  }

  async #download(url: string): Promise<Buffer> {
    const refusal = mediaUrlRefusal(url, this.#hosts);
    if (refusal) throw new ProtocolError("picture_failed", refusal);
    const dispatcher = guardedDispatcher(this.#hosts.allowPrivate, (origin) => mediaUrlRefusal(origin.href, this.#hosts));
    try {
      const res = await (this.#opts.fetch ?? fetch)(url, { dispatcher, signal: AbortSignal.timeout(PICTURE_TIMEOUT_MS) } as RequestInit);
      if (!res.ok) {
        await res.body?.cancel();
        throw new ProtocolError("picture_failed", `WhatsApp's CDN answered ${res.status}`);
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length === 0 || bytes.length > MAX_AVATAR_BYTES) throw new ProtocolError("picture_failed", `the picture is ${bytes.length} bytes`);
      return bytes;
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      const refused = err instanceof DestinationRefused ? err : (err as { cause?: unknown })?.cause;
      const why = refused instanceof DestinationRefused ? refused.message : errorText(err);
      this.#opts.logger.warn({ err: why }, "profile picture download failed");
      throw new ProtocolError("picture_failed", why);
    }
  }

  async #mediaBytes(mediaId: string): Promise<Buffer> {
    if (!this.#opts.fetchMedia) throw new ProtocolError("media_unavailable", `no media source configured for ${mediaId}`);
    return this.#opts.fetchMedia(mediaId);
  }

  #ask<T>(what: string, query: { ask: Ask<T>["ask"]; error?: (err: unknown) => ProtocolError }): Promise<T> {
    return askOpenSocket(this.#opts.sockets, this.#opts.logger, {
      name: `profile ${what}`,
      failed: `profile ${what} failed`,
      log: { part: what },
      error: query.error ?? profileError(what),
      ask: query.ask,
    });
  }
}

function ownJid(sock: SocketLike): string {
  if (!sock.user?.id) throw new ProtocolError("not_connected", "the number has no account yet");
  return jidNormalizedUser(sock.user.id);
}

/** A person's JID without its device: profiles are per account. */
function personJid(jid: string): string {
  const target = jidNormalizedUser(jid);
  if (!isPnUser(target) && !isLidUser(target)) throw new ProtocolError("invalid_jid", `${jid} is not a WhatsApp user's JID`);
  return target;
}

/** WhatsApp's answers to a picture query that mean "none to show": item-not-found, and not-authorized / forbidden (privacy). */
const NO_PICTURE = new Set([404, 401, 403]);

const profileError = (what: string) => (err: unknown) => new ProtocolError("profile_failed", `${what}: ${errorText(err)}`);

/** WhatsApp's `rate-overlimit` (Baileys: a Boom with data 429) to the picture query is its own code: the edge backs off for minutes on it. */
function pictureQueryError(err: unknown): ProtocolError {
  if (whatsAppCode(err) === 429) return new ProtocolError("rate_overlimit", `picture: ${errorText(err)}`);
  return profileError("picture")(err);
}

/** Baileys reads the image (sharp or jimp) before it asks WhatsApp: a file it cannot read is the client's. */
function pictureError(err: unknown): ProtocolError {
  const message = errorText(err);
  if (whatsAppCode(err) === null && /input|unsupported image|image format|corrupt|vips/i.test(message)) return new ProtocolError("invalid_picture", message);
  return new ProtocolError("profile_failed", `picture: ${message}`);
}

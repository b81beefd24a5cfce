/**
 * A WhatsApp-protocol test peer: one crabline server (one phone number) that
 * a real Baileys socket connects to, with what Pombo needs on top of the
 * stock server. The additions live in `patches/@openclaw+crabline+0.1.27.patch`
 * (applied by `npm install`'s postinstall), because they sit in private
 * class fields and module-local tables that no runtime extension can reach:
 *
 *  - the binary decoder falls back to the Baileys client's full WhatsApp
 *    token dictionary, so contacts, polls and usync phone lookups decode
 *    instead of closing the connection (1002);
 *  - usync phone lookups (`sock.onWhatsApp`, our `contacts.resolve`) are
 *    answered like WhatsApp does: `<user jid=...><contact type="in|out">+55...</contact></user>`,
 *    through the `lookupPhone` option this module fills from a PhoneDirectory;
 *  - accepted-send records carry the decrypted `proto.Message` bytes
 *    (`plaintext`, base64) for every message type, not only plain text;
 *  - an injected message from a LID sender can name the phone behind it
 *    (`senderPn`), sent as WhatsApp does: `sender_pn` with `addressing_mode="lid"`;
 *  - an injection can edit or delete for everyone an earlier injected message
 *    of the same sender (`edit: { targetId, text }`, `revoke: { targetId }`),
 *    sent as WhatsApp does: a `protocolMessage` with the target's key, type
 *    MESSAGE_EDIT with the new content in `editedMessage`, or REVOKE;
 *  - an injection can vote on a poll the number sent (`pollVote`), sent as
 *    WhatsApp does: a `pollUpdateMessage` naming the poll, with the vote
 *    encrypted by the caller (`poll-vote.ts`; the poll's secret is in what
 *    the peer accepted);
 *  - like WhatsApp, an injected message is kept until the number's socket
 *    answers it: one nacked (an `ack` with `error`, a retry receipt), or left
 *    unanswered when the socket closes, is delivered again, marked `offline`,
 *    when the number next connects. The stock peer forgot a message once it
 *    was written to a socket.
 *  - a call can ring the number (`offerCall`): a `<call><offer call-id=...>`
 *    as WhatsApp sends it, and the number's reject (a `<call><reject>` it
 *    sends, in `clientNodes()`) is answered with an ack, as WhatsApp does.
 *
 *  - a client with no account yet (fresh creds: its handshake registers
 *    instead of logging in) is sent WhatsApp's `pair-device` IQ with refs,
 *    so Baileys shows real pairing QRs; `sendPairDevice` sends fresh refs
 *    (a new QR at once). Nobody can scan them: pairing never completes.
 *
 *  - a status post (a send to `status@broadcast`) is accepted and recorded:
 *    its sender-key distribution decrypted, its `skmsg` raw, which
 *    `status-posts.ts` opens.
 *
 *  - the number's own "about" (Baileys' `updateProfileStatus`, an iq
 *    `status` set) is kept by the server, across reconnects, and usync
 *    status queries (`fetchStatus`) answer it as WhatsApp does:
 *    `<status t="...">text</status>` on the user; a user with none gets no
 *    status node. The stock peer acknowledged the set and answered nothing.
 *
 * What the peer accepts end to end (decrypted and recorded): text, location,
 * contact, reaction, poll, and text status posts. It cannot take media (its media_conn names
 * https://127.0.0.1:443, where nothing listens) nor group sends (no skmsg).
 */
import { type StartedWhatsAppServer, startWhatsAppServer } from "@openclaw/crabline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrowingList } from "../harness/waits.ts";
import { type AcceptedMessage, acceptedFromRecord } from "./decode.ts";
import { StatusPosts, isStatusRecord, keyRecipients } from "./status-posts.ts";

export type LookupAnswer = { exists: boolean; jid: string };

/**
 * Which phone numbers "are on WhatsApp", and under which JID, as the peer's
 * server answers lookups. Modelled on WhatsApp: an account has one canonical
 * JID; a Brazilian mobile can be asked for with or without its 9th digit and
 * either form finds the account (under the JID it was registered with, which
 * may be the other form); anything else is not on WhatsApp.
 */
export class PhoneDirectory {
  #accounts = new Map<string, string>();
  #unknownOnWhatsApp: boolean;
  /** Every lookup the peer answered, as asked (e.g. "+5511988887777"). */
  readonly lookups: string[] = [];

  /** `unknownOnWhatsApp`: numbers never registered are on WhatsApp as asked (the unpatched default). */
  constructor(opts: { unknownOnWhatsApp?: boolean } = {}) {
    this.#unknownOnWhatsApp = opts.unknownOnWhatsApp ?? false;
  }

  /** Puts an account on WhatsApp. `phone`: digits; the JID defaults to `<phone>@s.whatsapp.net`. */
  register(phone: string, jid = `${phone}@s.whatsapp.net`): this {
    this.#accounts.set(digitsOf(phone), jid);
    return this;
  }

  unregister(phone: string): this {
    this.#accounts.delete(digitsOf(phone));
    return this;
  }

  lookup(query: string): LookupAnswer {
    this.lookups.push(query);
    const digits = digitsOf(query);
    const alternative = brazilianAlternative(digits);
    const jid = this.#accounts.get(digits) ?? (alternative ? this.#accounts.get(alternative) : undefined);
    if (jid) return { exists: true, jid };
    return { exists: this.#unknownOnWhatsApp, jid: `${digits}@s.whatsapp.net` };
  }
}

/**
 * The other form of a Brazilian mobile number: `55 DD 9XXXXXXXX` <->
 * `55 DD XXXXXXXX` (mobile subscriber numbers start with 6-9). Null for
 * anything else, which has one form only.
 */
export function brazilianAlternative(digits: string): string | null {
  const withNine = /^55(\d{2})9([6-9]\d{7})$/.exec(digits);
  if (withNine) return `55${withNine[1]}${withNine[2]}`;
  const withoutNine = /^55(\d{2})([6-9]\d{7})$/.exec(digits);
  if (withoutNine) return `55${withoutNine[1]}9${withoutNine[2]}`;
  return null;
}

/** What the admin endpoint takes: a message "from the customer's phone" to this number. */
export type InboundInjection = {
  chatJid: string;
  senderJid: string;
  text?: string;
  audio?: { contentBase64: string; mimeType: string; ptt?: boolean };
  /** Edits the sender's earlier message `targetId` (its WhatsApp id) to `text`. */
  edit?: { targetId: string; text: string };
  /** Deletes the sender's earlier message `targetId` for everyone. */
  revoke?: { targetId: string };
  /** Votes on the number's poll `pollId`: the vote encrypted as the voter's client does (poll-vote.ts), base64. */
  pollVote?: { pollId: string; encPayload: string; encIv: string };
  pushName?: string;
  messageId?: string;
  /** With a `<digits>@lid` sender: the phone JID behind it. */
  senderPn?: string;
};

/** A call offer: `from` is the caller's JID (a phone JID or a LID, then `callerPn` names the phone). */
export type CallOffer = { from: string; callId: string; video?: boolean; groupJid?: string; callerPn?: string };

/**
 * A node the number's socket sent the peer (a receipt, an ack, a query, a
 * chatstate), as the peer recorded it, with its children's tags and attrs
 * (a chatstate's `composing`, a receipt's `list`).
 */
export type ClientNode = { tag: string; attrs: Record<string, string>; children: { tag: string; attrs: Record<string, string> }[]; at: string };

/**
 * A recorder that keeps no file (patches/@openclaw+crabline: `MEMORY_RECORDER_PATH`):
 * the events still reach the peer's observer, in order, without the lock, the
 * fsync'd append and the rotation checks a file record costs (most of a peer's
 * CPU under the benchmarks' load, bench/profiles/inbound-2026-12.md round 13).
 */
export const MEMORY_RECORDER = "memory:";

export type TestPeer = {
  server: StartedWhatsAppServer;
  /** Digits of the peer's own number. */
  phone: string;
  selfJid: string;
  /** The Baileys WebSocket URL (`waWebSocketUrl`). */
  url: string;
  recorderPath: string;
  directory: PhoneDirectory;
  /** Messages the peer accepted (decrypted), decoded, in arrival order. */
  accepted(): AcceptedMessage[];
  /** Resolves with the first accepted message matching `predicate` (already there or still to come). */
  waitForAccepted(predicate: (message: AcceptedMessage) => boolean, timeoutMs?: number): Promise<AcceptedMessage>;
  /** Puts a message on the number's socket, as if a customer sent it. Resolves with its WhatsApp id. */
  inject(message: InboundInjection): Promise<string>;
  /** Rings the number: a voice (or video) call from `from`. Resolves with how many of the number's sockets got the offer. */
  offerCall(offer: CallOffer): Promise<number>;
  /** Fresh `pair-device` refs to every client pairing now (each shows a new QR at once). Resolves with the refs, one list per client. */
  sendPairDevice(): Promise<string[][]>;
  /**
   * Every node the number's socket sent, in arrival order: what WhatsApp
   * would know of it. A message the number took is a `receipt` with its id
   * (or a plain `ack`); one it could not take is an `ack` with an `error`.
   */
  clientNodes(): ClientNode[];
  /** Whether the client acknowledged (receipt or ack) the received message with this id: WhatsApp will not send it again. */
  acknowledged(id: string): boolean;
  /** The devices the status post `id` carried its sender key to (those that did not have it yet). */
  statusKeyRecipients(id: string): string[];
  close(): Promise<void>;
};

/**
 * Starts a peer for the number `phone` (digits). `directory`: who is on
 * WhatsApp (default: nobody but those registered later on `peer.directory`).
 * `recorderPath`: where the JSONL recorder goes (default: a temp dir removed on close);
 * MEMORY_RECORDER keeps no file, for peers nobody reads a file of.
 */
export async function startPeer(opts: {
  phone: string;
  directory?: PhoneDirectory;
  accessToken?: string;
  recorderPath?: string;
}): Promise<TestPeer> {
  const directory = opts.directory ?? new PhoneDirectory();
  const dir = opts.recorderPath ? null : mkdtempSync(join(tmpdir(), "pombo-peer-"));
  const recorderPath = opts.recorderPath ?? join(dir!, "recorder.jsonl");
  const selfJid = `${opts.phone}@s.whatsapp.net`;
  const accepted: AcceptedMessage[] = [];
  const clientNodes: ClientNode[] = [];
  const acknowledged = new Set<string>();
  const growing = new GrowingList(() => accepted);
  const statuses = new StatusPosts();
  const statusKeyRecipients = new Map<string, string[]>();
  const server = await startWhatsAppServer({
    selfJid,
    recorderPath,
    ...(opts.accessToken ? { accessToken: opts.accessToken } : {}),
    lookupPhone: (query) => directory.lookup(query),
    onEvent: (event) => {
      const node = clientNodeOf(event);
      if (node) clientNodes.push(node);
      for (const id of acknowledgedIds(event)) acknowledged.add(id);
      if (isStatusRecord(event)) {
        statusKeyRecipients.set(event.body.attrs?.id ?? "", keyRecipients(event));
        // Opened with the sender key its audience was given: a moment later, in order.
        void statuses.open(event).then(
          (message) => {
            accepted.push(message);
            growing.grew();
          },
          (err: unknown) => console.error("test peer: a status post could not be opened:", err),
        );
        return;
      }
      const message = acceptedFromRecord(event);
      if (!message) return;
      accepted.push(message);
      growing.grew();
    },
  });
  return {
    server,
    phone: opts.phone,
    selfJid,
    url: server.manifest.endpoints.baileysWebSocketUrl,
    recorderPath,
    directory,
    accepted: () => [...accepted],
    waitForAccepted: (predicate, timeoutMs = 10_000) =>
      growing.first(
        predicate,
        timeoutMs,
        () => `the peer accepted no matching message in ${timeoutMs} ms (accepted: ${accepted.map((m) => m.id).join(", ") || "none"})`,
      ),
    inject: async (message) => {
      const res = await fetch(server.manifest.endpoints.adminInboundUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "x-crabline-admin-token": server.manifest.adminToken },
        body: JSON.stringify(message),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`the peer refused the inbound message: ${res.status} ${text}`);
      return (JSON.parse(text) as { message: { key: { id: string } } }).message.key.id;
    },
    offerCall: async (offer) => {
      const res = await fetch(server.manifest.endpoints.adminInboundUrl.replace(/\/inbound$/, "/call"), {
        method: "POST",
        headers: { "content-type": "application/json", "x-crabline-admin-token": server.manifest.adminToken },
        body: JSON.stringify(offer),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`the peer refused the call: ${res.status} ${text}`);
      return (JSON.parse(text) as { delivered: number }).delivered;
    },
    sendPairDevice: async () => {
      const res = await fetch(server.manifest.endpoints.adminInboundUrl.replace(/\/inbound$/, "/pair-device"), {
        method: "POST",
        headers: { "x-crabline-admin-token": server.manifest.adminToken },
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`the peer refused pair-device: ${res.status} ${text}`);
      return (JSON.parse(text) as { refs: string[][] }).refs;
    },
    clientNodes: () => [...clientNodes],
    statusKeyRecipients: (id) => statusKeyRecipients.get(id) ?? [],
    acknowledged: (id) => acknowledged.has(id),
    close: async () => {
      await server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The peer records every node a client sends (`type: "api"`) before handling it. */
function clientNodeOf(record: unknown): ClientNode | null {
  const r = record as { type?: unknown; at?: unknown; body?: RecordedNode };
  if (r?.type !== "api" || typeof r.body?.tag !== "string") return null;
  const children = (Array.isArray(r.body.content) ? (r.body.content as RecordedNode[]) : [])
    .filter((child) => typeof child?.tag === "string")
    .map((child) => ({ tag: child.tag!, attrs: child.attrs ?? {} }));
  return { tag: r.body.tag, attrs: r.body.attrs ?? {}, children, at: typeof r.at === "string" ? r.at : "" };
}

type RecordedNode = { tag?: string; attrs?: Record<string, string>; content?: unknown };

/** The message ids a node the client sent acknowledges: a receipt (its id, then its list's items) or a message ack without an error (a nack leaves the message with WhatsApp). */
function acknowledgedIds(event: unknown): string[] {
  const node = (event as { body?: RecordedNode } | null)?.body;
  if (!node || !(node.tag === "receipt" || (node.tag === "ack" && node.attrs?.class === "message" && !node.attrs.error))) return [];
  const ids = node.attrs?.id ? [node.attrs.id] : [];
  for (const child of Array.isArray(node.content) ? (node.content as RecordedNode[]) : []) {
    if (child.tag !== "list" || !Array.isArray(child.content)) continue;
    for (const item of child.content as RecordedNode[]) if (item.tag === "item" && item.attrs?.id) ids.push(item.attrs.id);
  }
  return ids;
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, "");
}

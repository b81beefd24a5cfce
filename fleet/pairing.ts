/**
 * Getting a number paired: the QRs it shows and how many it may show
 * (POMBO_QR_LIMIT), an 8-character code to type on the phone instead
 * (`instance.pairing_code`), or an existing Baileys session imported whole
 * (`instance.import_session`).
 *
 * The lifecycle (connection.ts) runs the sockets and tells this layer what
 * they do (a QR offered, a status changed); it keeps the count and waits for
 * a socket that can take a pairing code. What it needs of the lifecycle is
 * `PairingLifecycle`.
 */
import { type AuthenticationCreds, BufferJSON, initAuthCreds } from "@whiskeysockets/baileys";
import type { Logger } from "pino";
import QRCode from "qrcode";
import { ProtocolError, type StatusEvent } from "../shared/protocol.ts";
import type { MethodHandlers } from "../shared/rpc.ts";
import type { SocketLike } from "./wa-socket.ts";
import { Waiters } from "./waiters.ts";

export type PairingLifecycle = {
  /** The number has a WhatsApp session: it is connected, or its creds come from a pairing. */
  paired(): boolean;
  /** The socket now, open or still handshaking; null between sockets. */
  current(): SocketLike | null;
  /** Starts a socket unless one runs or is starting: the number is to run from now on. */
  run(): void;
  /** Ends the socket, replaces the whole session with `creds` and starts again on them, with a new allowance of QRs. */
  restartWith(creds: AuthenticationCreds): Promise<void>;
};

/** Below the edge's 25 s command timeout, so the API can say why instead of timing out. */
const PAIRING_READY_TIMEOUT_MS = 20_000;

export class Pairing {
  /** The commands this layer answers. */
  readonly methods: MethodHandlers = {
    "instance.pairing_code": ({ phone }) => this.pairingCode(phone),
    "instance.import_session": ({ creds }) => this.importSession(creds),
  };
  #lifecycle: PairingLifecycle;
  #logger: Logger;
  #qrLimit: number;
  /** QRs shown since the number last connected or was asked to pair. */
  #qrShown = 0;
  /** The socket that produced the current QR: only it can take a pairing-code request. */
  #qrSocket: SocketLike | null = null;
  /** The number's status, as last told, and how many times it changed. */
  #status: StatusEvent | null = null;
  #statusChanges = 0;
  #waiters = new Waiters();

  constructor(opts: { lifecycle: PairingLifecycle; logger: Logger; qrLimit: number }) {
    this.#lifecycle = opts.lifecycle;
    this.#logger = opts.logger;
    this.#qrLimit = opts.qrLimit;
  }

  // ------------------------------------------------------------ told by the lifecycle

  /** QRs shown since the allowance was last renewed. */
  get qrShown(): number {
    return this.#qrShown;
  }

  /** The last allowed QR was shown: the next one means nobody is going to scan. */
  get outOfQrs(): boolean {
    return this.#qrShown >= this.#qrLimit;
  }

  /** A new allowance of QRs: the number connected, or someone asked to pair it. */
  renewQrs(): void {
    this.#qrShown = 0;
  }

  /** Counts a QR and draws it as a PNG data URL for the dashboard (null if it cannot be drawn). */
  async drawQr(qr: string): Promise<string | null> {
    this.#qrShown++;
    return QRCode.toDataURL(qr).catch(() => null);
  }

  /** `sock` shows a QR: it finished the handshake as an unpaired device. */
  qrOffered(sock: SocketLike): void {
    this.#qrSocket = sock;
  }

  /** The socket was let go of: its QR is gone with it. */
  socketGone(): void {
    this.#qrSocket = null;
  }

  /** A socket started: a pairing request may have been waiting for one. */
  socketStarted(): void {
    this.#waiters.notify();
  }

  /** The number's status changed. */
  statusChanged(status: StatusEvent): void {
    this.#status = status;
    this.#statusChanges++;
    this.#waiters.notify();
  }

  // ------------------------------------------------------------ commands

  async pairingCode(phone: string): Promise<{ code: string }> {
    const digits = phone.replace(/\D/g, "");
    if (digits.length < 8 || digits.length > 15) throw new ProtocolError("invalid_phone", "phone must have 8 to 15 digits");
    if (this.#lifecycle.paired()) throw alreadyPaired();
    const changesBefore = this.#statusChanges;
    this.renewQrs();
    this.#lifecycle.run();
    // A pairing code can only be asked on a socket that finished the handshake
    // as an unpaired device, which is exactly when it shows a QR.
    await this.#waiters.waitFor(
      () => this.#lifecycle.paired() || (this.#lifecycle.current() !== null && this.#qrSocket === this.#lifecycle.current()),
      PAIRING_READY_TIMEOUT_MS,
      // A socket that drops (after this request) before offering a QR cannot ask for a code: say so now.
      () =>
        this.#statusChanges > changesBefore && this.#status?.state === "disconnected"
          ? `cannot reach WhatsApp (close code ${this.#status.close_code})`
          : null,
    );
    if (this.#lifecycle.paired()) throw alreadyPaired();
    const sock = this.#lifecycle.current() as SocketLike;
    const code = await sock.requestPairingCode(digits);
    this.#logger.info("pairing code issued");
    return { code };
  }

  async importSession(raw: Record<string, unknown>): Promise<Record<string, never>> {
    let imported: AuthenticationCreds;
    try {
      imported = JSON.parse(JSON.stringify(raw), BufferJSON.reviver) as AuthenticationCreds;
    } catch {
      throw new ProtocolError("invalid_session", "creds are not BufferJSON");
    }
    if (typeof imported.me?.id !== "string" || !imported.noiseKey?.private || !imported.signedIdentityKey?.private) {
      throw new ProtocolError("invalid_session", "creds need me.id, noiseKey and signedIdentityKey");
    }
    // Older creds files lack fields newer Baileys expects; fresh defaults fill
    // only those gaps, every key from the import wins.
    const creds: AuthenticationCreds = { ...initAuthCreds(), ...imported };
    this.#logger.info("importing session");
    await this.#lifecycle.restartWith(creds);
    return {};
  }
}

function alreadyPaired(): ProtocolError {
  return new ProtocolError("already_paired", "this instance already has a WhatsApp session");
}

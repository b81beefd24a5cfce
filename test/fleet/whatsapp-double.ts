/**
 * A real Baileys socket (makeWASocket: its group functions, query layer,
 * notification handling and events, all Baileys' own) whose WebSocket is a
 * double answering as WhatsApp does. The Noise handshake never starts, so
 * frames cross in the clear: the double decodes each node Baileys sends and
 * hands the answer back on Baileys' frame emitter (`TAG:<id>`, `CB:<tag>`),
 * where Baileys' own frame decoder would put it. For what the loopback peer
 * cannot do: groups.
 */
import makeWASocket, {
  type AuthenticationCreds,
  type BinaryNode,
  NOISE_WA_HEADER,
  decodeBinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  initAuthCreds,
} from "@whiskeysockets/baileys";
import pino from "pino";
import type { SocketLike, Sockets } from "../../fleet/wa-socket.ts";

export type Answer = (iq: BinaryNode) => BinaryNode | undefined;

export const node = (tag: string, attrs: Record<string, string> = {}, content?: BinaryNode[] | Buffer | string): BinaryNode => ({
  tag,
  attrs,
  ...(content === undefined ? {} : { content: typeof content === "string" ? Buffer.from(content) : content }),
});

/** WhatsApp's error answer to an IQ. */
export const iqError = (iq: BinaryNode, code: number, text: string): BinaryNode =>
  node("iq", { id: iq.attrs.id!, type: "error", from: iq.attrs.to ?? "@g.us" }, [node("error", { code: String(code), text })]);

export const iqResult = (iq: BinaryNode, content?: BinaryNode[]): BinaryNode =>
  node("iq", { id: iq.attrs.id!, type: "result", from: iq.attrs.to ?? "@g.us" }, content);

export type WhatsAppDouble = {
  sock: SocketLike;
  sockets: Sockets;
  /** Every IQ Baileys sent, decoded, in order. */
  iqs: BinaryNode[];
  /** How WhatsApp answers the next IQs; unanswered IQs get `<error code=501>`. */
  answer: (fn: Answer) => void;
  /** A frame from WhatsApp (a notification), as Baileys' frame decoder dispatches it. */
  receive: (frame: BinaryNode) => void;
  /** Everything Baileys sent that is not an IQ (acks of notifications). */
  others: BinaryNode[];
  close: () => void;
};

export function whatsAppDouble(me: { id: string; lid?: string }): WhatsAppDouble {
  const creds: AuthenticationCreds = { ...initAuthCreds(), me, registered: true };
  const sock = makeWASocket({
    auth: { creds, keys: { get: async () => ({}), set: async () => {} } },
    // Nothing listens there: the real WebSocket is replaced before it could connect.
    waWebSocketUrl: "ws://127.0.0.1:9/ws",
    logger: pino({ level: "silent" }),
    version: [2, 3000, 1],
    fireInitQueries: false,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
  });
  const ws = sock.ws as unknown as { socket: unknown; emit(event: string, frame: unknown): boolean };
  const real = ws.socket as { removeAllListeners(): void; on(e: string, f: () => void): void; terminate(): void };
  real.removeAllListeners();
  real.on("error", () => {});
  real.terminate();

  const iqs: BinaryNode[] = [];
  const others: BinaryNode[] = [];
  let answer: Answer = () => undefined;
  let intro = true;
  ws.socket = {
    readyState: 1, // OPEN, as Baileys checks before every send
    send(bytes: Uint8Array, done?: (err?: Error) => void) {
      // The first frame opens with the Noise header; every frame then has a 3-byte length.
      const from = (intro ? NOISE_WA_HEADER.length : 0) + 3;
      intro = false;
      done?.();
      void decodeBinaryNode(Buffer.from(bytes.subarray(from))).then((sent) => {
        if (sent.tag !== "iq") return void others.push(sent);
        iqs.push(sent);
        const reply = answer(sent) ?? iqError(sent, 501, "feature-not-implemented");
        ws.emit(`TAG:${sent.attrs.id}`, reply);
      });
    },
    close() {},
    removeAllListeners() {},
  };
  const socket = sock as unknown as SocketLike;
  return {
    sock: socket,
    sockets: { current: () => socket, open: () => socket, isOpen: () => true },
    iqs,
    others,
    answer: (fn) => {
      answer = fn;
    },
    receive: (frame) => {
      // The callbacks Baileys' frame decoder fires for a node (socket.ts onMessageReceived).
      const l2 = Array.isArray(frame.content) ? (frame.content[0]?.tag ?? "") : "";
      for (const [key, value] of Object.entries(frame.attrs)) {
        ws.emit(`CB:${frame.tag},${key}:${value},${l2}`, frame);
        ws.emit(`CB:${frame.tag},${key}:${value}`, frame);
        ws.emit(`CB:${frame.tag},${key}`, frame);
      }
      ws.emit(`CB:${frame.tag},,${l2}`, frame);
      ws.emit(`CB:${frame.tag}`, frame);
    },
    close: () => {
      ws.socket = null;
      sock.ev.removeAllListeners(undefined as never);
    },
  };
}

export { getBinaryNodeChild, getBinaryNodeChildren };

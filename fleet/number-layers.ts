/**
 * The layers above one number's socket lifecycle, one module each, as
 * Baileys splits `src/Socket/`: receiving (inbound-receiver.ts), pairing
 * (pairing.ts), sending (outbound-sender.ts), queries
 * (whatsapp-queries.ts), chat signals: read receipts and presence
 * (chat-signals.ts), group administration (group-admin.ts), calls
 * (calls.ts) and profiles (profile.ts). They are made once per number and
 * outlive its sockets; they see the socket of the moment (`Sockets`, wa-socket.ts) and
 * what pairing needs of the lifecycle (`PairingLifecycle`), never the
 * lifecycle's state.
 *
 * `methods` is the table of the edge's commands to the number: the
 * lifecycle's own (restart, logout), then each layer's.
 */
import type { Logger } from "pino";
import type { MethodHandlers } from "../shared/rpc.ts";
import { Calls } from "./calls.ts";
import { ChatSignals } from "./chat-signals.ts";
import type { SessionCipher } from "./cipher.ts";
import { DEFAULT_QR_LIMIT } from "./config.ts";
import type { EdgeLink } from "./edge-link.ts";
import { GroupAdmin } from "./group-admin.ts";
import { InboundReceiver } from "./inbound-receiver.ts";
import type { InboundSpool } from "./inbound-spool.ts";
import type { FetchMedia } from "./outbound-media.ts";
import { OutboundSender } from "./outbound-sender.ts";
import type { MediaHosts } from "./inbound-media.ts";
import { Pairing, type PairingLifecycle } from "./pairing.ts";
import { Profiles } from "./profile.ts";
import type { Sockets } from "./wa-socket.ts";
import { WhatsAppQueries } from "./whatsapp-queries.ts";

/** What the layers need beyond the socket settings. */
export type LayerOptions = {
  instanceId: string;
  /** The number's instance link: its session store, and what the number tells the edge. */
  link: EdgeLink;
  cipher: SessionCipher;
  logger: Logger;
  /** Where media bytes for outbound messages come from (the edge's media route). */
  fetchMedia?: FetchMedia;
  /** Where received messages are written before WhatsApp gets their receipt (one per process). */
  spool: InboundSpool;
  /** QRs an unpaired number shows before pairing expires (see DEFAULT_QR_LIMIT in config.ts). */
  qrLimit?: number;
  /** Where profile pictures may be downloaded from (default: WhatsApp's hosts, public addresses). */
  mediaHosts?: MediaHosts;
};

/** What the layers may ask of the lifecycle below them. */
export type Lifecycle = {
  sockets: Sockets;
  pairing: PairingLifecycle;
  restart(): Promise<Record<string, never>>;
  logout(): Promise<Record<string, never>>;
};

export class NumberLayers {
  readonly inbound: InboundReceiver;
  readonly pairing: Pairing;
  readonly sender: OutboundSender;
  readonly queries: WhatsAppQueries;
  readonly signals: ChatSignals;
  readonly groups: GroupAdmin;
  readonly calls: Calls;
  readonly profiles: Profiles;
  /** The commands the edge can call on this number. */
  readonly methods: MethodHandlers;

  constructor(opts: LayerOptions, lifecycle: Lifecycle) {
    const { instanceId, link, cipher, logger } = opts;
    const { sockets } = lifecycle;
    this.inbound = new InboundReceiver({ instanceId, link, spool: opts.spool, cipher, logger });
    this.pairing = new Pairing({ lifecycle: lifecycle.pairing, logger, qrLimit: opts.qrLimit ?? DEFAULT_QR_LIMIT });
    this.sender = new OutboundSender({ instanceId, sockets, link, cipher, fetchMedia: opts.fetchMedia, inbound: this.inbound, logger });
    this.queries = new WhatsAppQueries({ sockets, logger });
    this.signals = new ChatSignals({ sockets, link, logger });
    this.groups = new GroupAdmin({ sockets, link, logger });
    this.calls = new Calls({ sockets, link, logger });
    this.profiles = new Profiles({ sockets, logger, fetchMedia: opts.fetchMedia, mediaHosts: opts.mediaHosts });
    this.methods = {
      "instance.restart": () => lifecycle.restart(),
      "instance.logout": () => lifecycle.logout(),
      ...this.pairing.methods,
      ...this.sender.methods,
      ...this.queries.methods,
      ...this.signals.methods,
      ...this.groups.methods,
      ...this.calls.methods,
      ...this.profiles.methods,
      echo: ({ at }) => ({ at }),
    };
  }
}

/**
 * The Worker `bench:costs` runs: each step of the received path the edge
 * profile blames, done `n` times in one request with Pombo's own modules
 * (the protocol's schemas and parseFrame, eventIdOf, the hub's stub), so its
 * workerd CPU can be read apart from the rest. Exists only for that bench
 * (bench/costs.ts writes its config).
 */
import { DurableObject } from "cloudflare:workers";
import type { Env as PomboEnv } from "../edge/env.ts";
import { eventIdOf, type NewEvent, type SealedEvent } from "../edge/services/events.ts";
import { hubOf } from "../edge/objects/stubs.ts";
import { foldWord } from "../edge/services/privacy.ts";
import { defaultSettings } from "../edge/services/settings-schema.ts";
import { Methods, PROTOCOL_VERSION, parseFrame } from "../shared/protocol.ts";

const PROJECT = "prj_3f1c9a7e2b4d4e6f8a0b1c2d3e4f5a6b";
const INSTANCE = "492e6b46-0c5f-4727-96e3-6f9f5e4f93e8";
const TEXT =
  "Olá! Vi o anúncio de vocês no Instagram e queria saber se o tênis de corrida azul ainda tem no tamanho 42. " +
  "Se tiver, qual o prazo de entrega para São Paulo, zona sul, e se dá para parcelar no cartão em 3 vezes sem juros? " +
  "Também queria saber se a troca é grátis caso não sirva. Obrigada!";

/** A received text as the fleet's translator sends it: every field present (fleet/inbound-translate.ts). */
const message = {
  wa_message_id: "3EB0C4F1A9D27B5E8C61",
  chat_jid: "118273645546372@lid",
  chat_jid_alt: "5511988887777@s.whatsapp.net",
  sender_jid: "118273645546372@lid",
  sender_jid_alt: "5511988887777@s.whatsapp.net",
  push_name: "Maria Oliveira",
  timestamp: 1796520000,
  from_me: false,
  offline: false,
  type: "text",
  body: TEXT,
  quoted_id: null,
  mentions: [],
  media: null,
  media_error: null,
  location: null,
  contact: null,
  poll: null,
  poll_vote: null,
  target_id: null,
};
const frame = JSON.stringify({ v: PROTOCOL_VERSION, t: "req", id: 4711, method: "message.received", params: message });
const params = Methods["message.received"].params;
/** Frames that differ (ids, chats, texts), in case the same input every time flatters the hot loop. */
const frames = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    v: PROTOCOL_VERSION,
    t: "req",
    id: 5000 + i,
    method: "message.received",
    params: { ...message, wa_message_id: `3EB0${i}C4F1A9D27B5E8C61`, chat_jid: `11827364554${i}@lid`, sender_jid: `11827364554${i}@lid`, body: `${i}: ${TEXT.slice(i)}` },
  }),
);
const SHORT = "Quero saber o preço do tênis azul";
const keywords = defaultSettings().optout_keywords;

/** The event that message makes (services/inbound.ts eventOf). */
const event: NewEvent = {
  type: "message.received",
  instance_id: INSTANCE,
  sender: { jid: "5511988887777@s.whatsapp.net", lid: "118273645546372@lid", name: "Maria Oliveira" },
  contact_id: "ct_7d0e2f4a9b8c4d1e8f2a3b4c5d6e7f80",
  conversation_id: "cv_1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6",
  reference: null,
  payload: {
    message_id: "msg_9c8b7a6f5e4d4c3b2a190817f6e5d4c3",
    wa_message_id: message.wa_message_id,
    from: "5511988887777@s.whatsapp.net",
    type: "text",
    body: TEXT,
    timestamp: message.timestamp,
  },
};
const built = { id: eventIdOf(PROJECT, event), created_at: "2026-12-06T02:30:00.000Z", ...event };
const sealed: SealedEvent[] = [{ id: built.id, type: built.type, body: JSON.stringify(built) }];
const pair: SealedEvent[] = [sealed[0]!, { ...sealed[0]!, id: `${built.id.slice(0, -1)}0` }];
const eight: SealedEvent[] = Array.from({ length: 8 }, (_, i) => ({ ...sealed[0]!, id: `${built.id.slice(0, -1)}${i}` }));
const tiny: SealedEvent[] = [{ id: built.id, type: built.type, body: "{}" }];

let sink = 0;
/** Pure work, in the isolate that asks: the loop keeps each result alive. */
const JS: Record<string, () => unknown> = {
  "loop (nothing)": () => sink,
  "JSON.parse frame": () => JSON.parse(frame),
  parseFrame: () => parseFrame(frame),
  "params safeParse": () => params.safeParse(message),
  "parseFrame + params safeParse": () => {
    const f = parseFrame(frame);
    return f.t === "req" && params.safeParse(f.params);
  },
  "parseFrame + params, 64 frames": () => {
    const f = parseFrame(frames[sink & 63]!);
    return f.t === "req" && params.safeParse(f.params);
  },
  "opt-out word check (keywordOptOut)": () => {
    const word = foldWord(SHORT);
    return keywords.some((k) => foldWord(k) === word) || word;
  },
  eventIdOf: () => eventIdOf(PROJECT, event),
  "JSON.stringify event": () => JSON.stringify(built),
};

type Env = { RELAY: DurableObjectNamespace<RelayObject>; EVENTS: DurableObjectNamespace<HubObject> };

/** Takes what the instance object hands the hub and does nothing with it: the call's own price. */
export class HubObject extends DurableObject {
  publish(_projectId: string, _events: SealedEvent[]): void {}
  publishOne(_projectId: string, _body: string): void {}
  ping(x: string): string {
    return x;
  }
}

const hub = (env: Env) => env.EVENTS.get(env.EVENTS.idFromName(PROJECT));

/** Calls from one Durable Object to another, as the instance object publishes to the project's hub. */
const DO: Record<string, (env: Env, cached: ReturnType<typeof hub>) => Promise<unknown> | unknown> = {
  "do->do publish, cached stub": (_env, stub) => stub.publish(PROJECT, sealed),
  "do->do publish, hubOf each call": (env) => hubOf(env as unknown as PomboEnv, PROJECT).publish(PROJECT, sealed),
  "do->do publish, tiny body": (_env, stub) => stub.publish(PROJECT, tiny),
  "do->do publish, body as one string": (_env, stub) => stub.publishOne(PROJECT, sealed[0]!.body),
  // What coalescing would save: two messages' events in one call, against two calls at once.
  "do->do publish, 2 events in 1 call, per pair": (_env, stub) => stub.publish(PROJECT, pair),
  "do->do publish, 2 calls at once, per pair": (_env, stub) => Promise.all([stub.publish(PROJECT, sealed), stub.publish(PROJECT, sealed)]),
  "do->do publish, 8 events in 1 call, per 8": (_env, stub) => stub.publish(PROJECT, eight),
  "do->do publish, 8 calls at once, per 8": (_env, stub) => Promise.all(eight.map((e) => stub.publish(PROJECT, [e]))),
  "hubOf (idFromName + get), no call": (env) => hubOf(env as unknown as PomboEnv, PROJECT),
};

export class RelayObject extends DurableObject<Env> {
  async run(op: string, n: number): Promise<void> {
    const step = DO[op]!;
    const stub = hub(this.env);
    for (let i = 0; i < n; i++) await step(this.env, stub);
  }
}

/** The same call from the Worker (a route) instead of an object. */
const WORKER: Record<string, (env: Env) => Promise<unknown>> = {
  "worker->do publish": (env) => hub(env).publish(PROJECT, sealed),
  "worker->do publish, tiny body": (env) => hub(env).publish(PROJECT, tiny),
  // bench:floor's "do call", here: this Worker's compatibility date and flags are the edge's.
  "worker->do ping": (env) => hub(env).ping("x"),
};

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/setup") {
      return Response.json({
        ops: [...Object.keys(JS).map((name) => ({ name, kind: "js" })), ...[...Object.keys(DO), ...Object.keys(WORKER)].map((name) => ({ name, kind: "call" }))],
        sizes: { frame: frame.length, event: sealed[0]!.body.length },
      });
    }
    const op = url.searchParams.get("op") ?? "";
    const n = Number(url.searchParams.get("n") ?? 1);
    if (JS[op]) {
      const f = JS[op];
      for (let i = 0; i < n; i++) if (f()) sink++;
    } else if (DO[op]) await env.RELAY.get(env.RELAY.idFromName("relay")).run(op, n);
    else if (WORKER[op]) for (let i = 0; i < n; i++) await WORKER[op](env);
    else return new Response("unknown op", { status: 404 });
    return new Response(String(sink));
  },
} satisfies ExportedHandler<Env>;

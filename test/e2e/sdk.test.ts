/**
 * The generated TypeScript client (sdk/) against the real stack: a number is
 * created, paired (its session imported, the harness way) and sends a text
 * through the SDK alone, and the message reads back through it. A change to
 * the API that the committed SDK does not follow breaks this flow (or the
 * typecheck of this file) rather than a customer's integration.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createPomboClient, type PomboClient } from "../../sdk/index.ts";
import { makeCreds } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";
import { summarize } from "../peer/decode.ts";

describe("e2e: the generated SDK", () => {
  const stack = useStack("sdk", 1);
  let pombo: PomboClient;

  beforeAll(() => {
    stack.fleet();
    pombo = createPomboClient(stack.edge.url, stack.api.token);
  });

  it("creates an instance, connects it, sends a text and reads the message back, all through the SDK", async () => {
    const created = await pombo.POST("/instances", { body: { name: "sdk-1" } });
    expect(created.response.status).toBe(201);
    const instance = created.data!;
    expect(instance.state).toBe("connecting");
    const peer = stack.peers.peers[0]!;
    stack.proxy.route(instance.id, peer);

    // Pairing through a QR needs a phone; the harness imports a session made for the peer's number instead.
    const imported = await pombo.POST("/instances/{id}/session", {
      params: { path: { id: instance.id } },
      body: JSON.parse(makeCreds(peer.phone)),
    });
    expect(imported.response.status).toBe(202);
    await waitFor(
      async () => {
        const { data } = await pombo.GET("/instances/{id}", { params: { path: { id: instance.id } } });
        return data?.state === "connected" ? data : null;
      },
      30_000,
      { what: "the instance connected" },
    );

    const settings = await pombo.PATCH("/settings", { body: { pacing: { enabled: false }, warming_days: 0 } });
    expect(settings.response.status).toBe(200);

    const to = "5511977700001";
    stack.peers.directory.register(to);
    const sent = await pombo.POST("/messages/text", { body: { to: `+${to}`, body: "Olá from the SDK", reference: "sdk-e2e" } });
    expect(sent.response.status).toBe(202);
    expect(sent.data).toMatchObject({ status: "queued", instance_id: instance.id, reference: "sdk-e2e" });

    const message = await waitFor(
      async () => {
        const { data } = await pombo.GET("/messages/{id}", { params: { path: { id: sent.data!.id } } });
        return data?.status === "sent" ? data : null;
      },
      15_000,
      { what: "the message sent" },
    );
    expect(message).toMatchObject({ id: sent.data!.id, chat_jid: `${to}@s.whatsapp.net`, reference: "sdk-e2e" });
    // WhatsApp (the peer) got the text.
    const arrived = await waitFor(() => peer.accepted().find((m) => m.id === message.wa_message_id) ?? null, 5_000, { what: "the text at the peer" });
    expect(summarize(arrived.message)).toEqual({ type: "text", text: "Olá from the SDK" });

    // An error answer is typed too: the documented { error: { code } }.
    const missing = await pombo.GET("/messages/{id}", { params: { path: { id: "no-such-message" } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe("not_found");
  });
});

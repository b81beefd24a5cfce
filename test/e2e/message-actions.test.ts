/**
 * Editing and deleting our messages against a real WhatsApp-protocol peer:
 * the peer decrypts what the number's Baileys socket sends, so an edit shows
 * as WhatsApp's MESSAGE_EDIT protocol message naming the original's id, and
 * a delete for everyone as a REVOKE of it. (Caption edits need a media
 * message, which the peer cannot take: test/fleet/send.test.ts covers them
 * around the socket.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { summarize } from "../peer/decode.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Message = {
  id: string;
  status: string;
  reason: string | null;
  wa_message_id: string;
  wa_message_ids: string[];
  content: Record<string, unknown>;
  edited_at: string | null;
  edits: { previous_body: string | null; body: string; by: string; at: string }[];
};

describe("e2e: editing and deleting for everyone", () => {
  const stack = useStack("actions", 1);
  let instanceId: string;
  let customerSeq = 0;

  beforeAll(async () => {
    stack.fleet();
    instanceId = (await stack.connectNumbers(1, { timeoutMs: 30_000 }))[0]!.id;
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  });

  const customer = () => {
    const phone = `55119666${String(++customerSeq).padStart(5, "0")}`;
    stack.peers.directory.register(phone);
    return `${phone}@s.whatsapp.net`;
  };
  const peer = () => stack.peers.peers[0]!;
  /** A text sent to `to`, once WhatsApp has it. */
  const sentText = async (to: string, body: string) => {
    const { id } = await stack.api.call<{ id: string }>("POST", "/messages/text", { to, body, instance_id: instanceId }, 202);
    return waitFor(
      async () => {
        const m = await stack.api.call<Message>("GET", `/messages/${id}`);
        return m.status === "sent" ? m : null;
      },
      15_000,
      { what: `message ${id} sent` },
    );
  };
  /** What the peer decrypted of messages sent to `to` after the first `skip`, once `count` are there. */
  const arrivals = (to: string, count: number) =>
    waitFor(
      () => {
        const got = peer()
          .accepted()
          .filter((m) => m.to === to);
        return got.length >= count ? got.map((m) => ({ id: m.id, summary: summarize(m.message) })) : null;
      },
      5_000,
      { intervalMs: 20, what: `${count} messages to arrive for ${to}` },
    );

  it("an edited text arrives as an edit of the same message id with the new text, and GET shows the history", async () => {
    const to = customer();
    const original = await sentText(to, "Your order ships today");
    const edited = await stack.api.call<Message>("PATCH", `/messages/${original.id}`, { body: "Your order ships tomorrow" }, 200);
    expect(edited.content.body).toBe("Your order ships tomorrow");

    const [first, edit] = await arrivals(to, 2);
    expect(first).toEqual({ id: original.wa_message_id, summary: { type: "text", text: "Your order ships today" } });
    expect(edit!.summary).toEqual({
      type: "edit",
      target: { id: original.wa_message_id, from_me: true, remote_jid: to },
      edited: { type: "text", text: "Your order ships tomorrow" },
    });
    // The edit is a WhatsApp message of its own.
    expect(edit!.id).not.toBe(original.wa_message_id);

    const shown = await stack.api.call<Message>("GET", `/messages/${original.id}`);
    expect(shown).toMatchObject({ status: "sent", content: { body: "Your order ships tomorrow" }, edited_at: expect.any(String) });
    expect(shown.edits).toEqual([{ previous_body: "Your order ships today", body: "Your order ships tomorrow", by: "api", at: shown.edited_at }]);
  });

  it("a text deleted for everyone arrives as a revoke of the same message id, and GET shows it deleted with its content", async () => {
    const to = customer();
    const original = await sentText(to, "Sent to the wrong customer");
    const deleted = await stack.api.call<Message>("DELETE", `/messages/${original.id}`, undefined, 200);
    expect(deleted).toMatchObject({ status: "deleted", reason: "deleted_by_api" });

    const [first, revoke] = await arrivals(to, 2);
    expect(first!.id).toBe(original.wa_message_id);
    expect(revoke!.summary).toEqual({ type: "revoke", target: { id: original.wa_message_id, from_me: true, remote_jid: to } });
    expect(revoke!.id).not.toBe(original.wa_message_id);

    const shown = await stack.api.call<Message>("GET", `/messages/${original.id}`);
    expect(shown).toMatchObject({ status: "deleted", content: { body: "Sent to the wrong customer" } });
    // A repeat sends nothing more.
    await stack.api.call<Message>("DELETE", `/messages/${original.id}`, undefined, 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(peer().accepted().filter((m) => m.to === to)).toHaveLength(2);
  });
});

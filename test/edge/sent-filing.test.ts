/**
 * What the edge writes once WhatsApp took a message or reported on it: the
 * move to `sent` files the message under its contact and conversation in
 * the move's own D1 batch when both exist (sent-messages.ts `fileInMove`),
 * and a receipt finds its message inside its move's statements. Each is one
 * D1 round trip; a move that does not happen writes nothing else.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { db } from "../../edge/db/client.ts";
import { applyReceipt, markSent } from "../../edge/services/message-status.ts";
import { fileInMove, recordSent } from "../../edge/services/sent-messages.ts";
import { call, closeFleetSockets, connectedFleet, countingEnv, eventsUntil, messageOf, projectWithNumber, waitFor } from "./helpers.ts";

const CUSTOMER_JID = "5511988887777@s.whatsapp.net";

afterEach(() => closeFleetSockets());

const sendText = (key: string, id: string, body: string) =>
  call("/messages/text", { method: "POST", token: key, body: { to: CUSTOMER_JID, body, instance_id: id } });

const contactRow = (projectId: string) =>
  env.DB.prepare("SELECT id, message_count, last_message_at FROM contacts WHERE project_id = ?").bind(projectId).all<{ id: string; message_count: number }>();
const conversationRow = (projectId: string) =>
  env.DB.prepare("SELECT id, contact_id, last_message_id, unread_count, updated_at FROM conversations WHERE project_id = ?")
    .bind(projectId)
    .first<{ id: string; contact_id: string; last_message_id: string; unread_count: number; updated_at: string }>();
const messageLink = (id: string) =>
  env.DB.prepare("SELECT contact_id, conversation_id FROM messages WHERE id = ?").bind(id).first<{ contact_id: string | null; conversation_id: string | null }>();

const sentAt = () => new Date().toISOString();
const sent = () => ({ sent_at: sentAt(), message_secret: null, poll_message: null });

describe("the move to sent and its filing", () => {
  it("files a text in the move's one D1 round trip, creating the contact and conversation on the first; a repeated move writes nothing", async () => {
    const { key, projectId, id } = await projectWithNumber();
    // No fleet: the sends stay queued, and the journal's D1 writes are called here as the sender calls them.
    const first = (await sendText(key, id, "first")).json.id as string;
    const second = (await sendText(key, id, "second")).json.id as string;

    // The first message to this customer: its contact and conversation are created in the move's batch.
    const moveFirst = fileInMove(db(env.DB), projectId, { message_id: first, chat_jid: CUSTOMER_JID, instance_id: id })!;
    const one = await markSent(db(env.DB), projectId, first, sent(), moveFirst.writes);
    expect(one.moved?.status).toBe("sent");
    const link = moveFirst.filed(one.also);
    expect(link).toMatchObject({ contact: { phone: "+5511988887777", jid: CUSTOMER_JID, source: "outbound", message_count: 1 } });
    expect(await messageLink(first)).toEqual({ contact_id: link!.contact_id, conversation_id: link!.conversation_id });
    expect(await conversationRow(projectId)).toMatchObject({ id: link!.conversation_id, contact_id: link!.contact_id, last_message_id: first });

    // The second: one round trip moves it, stamps it, counts it on the contact, and makes it the conversation's last.
    const counted = countingEnv();
    const d1 = db(counted.env.DB);
    const filing = fileInMove(d1, projectId, { message_id: second, chat_jid: CUSTOMER_JID, instance_id: id })!;
    const two = await markSent(d1, projectId, second, sent(), filing.writes);
    expect(counted.trips.count).toBe(1);
    expect(two.moved?.status).toBe("sent");
    expect(filing.filed(two.also)).toMatchObject({ contact_id: link!.contact_id, conversation_id: link!.conversation_id, contact: { id: link!.contact_id } });
    expect(await messageLink(second)).toEqual({ contact_id: link!.contact_id, conversation_id: link!.conversation_id });
    expect((await contactRow(projectId)).results).toMatchObject([{ id: link!.contact_id, message_count: 2 }]);
    const conversation = await conversationRow(projectId);
    expect(conversation).toMatchObject({ id: link!.conversation_id, last_message_id: second, unread_count: 0 });

    // The same record again (a retry after a lost answer): nothing moves, nothing else is written.
    await new Promise((r) => setTimeout(r, 5));
    const again = fileInMove(db(env.DB), projectId, { message_id: second, chat_jid: CUSTOMER_JID, instance_id: id })!;
    const repeat = await markSent(db(env.DB), projectId, second, sent(), again.writes);
    expect(repeat.moved).toBeNull();
    expect(again.filed(repeat.also)).toBeNull();
    expect((await contactRow(projectId)).results).toMatchObject([{ message_count: 2 }]);
    expect(await conversationRow(projectId)).toEqual(conversation);
    expect((await messageOf(key, second)).history.map((h: { status: string }) => h.status)).toEqual(["queued", "sent"]);
  }, 30_000);

  it("leaves a contact entered by hand to be confirmed after the move (it takes WhatsApp's JID), and files the message there", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const created = await call("/contacts", { method: "POST", token: key, body: { phone: "+5511988887777", name: "Ana" } });
    expect(created.status).toBe(201);
    const message = (await sendText(key, id, "hello Ana")).json.id as string;
    const filing = fileInMove(db(env.DB), projectId, { message_id: message, chat_jid: CUSTOMER_JID, instance_id: id })!;
    const moved = await markSent(db(env.DB), projectId, message, sent(), filing.writes);
    expect(filing.filed(moved.also)).toBeNull();
    expect(await messageLink(message)).toEqual({ contact_id: null, conversation_id: null });
    expect((await contactRow(projectId)).results).toMatchObject([{ id: created.json.id, message_count: 0 }]);
    const link = await recordSent(env, projectId, moved.moved!);
    expect(link).toMatchObject({ contact_id: created.json.id, contact: { jid: CUSTOMER_JID, name: "Ana" } });
    expect((await contactRow(projectId)).results).toMatchObject([{ id: created.json.id, message_count: 1 }]);
    expect(await messageLink(message)).toEqual({ contact_id: created.json.id, conversation_id: link!.conversation_id });
  }, 30_000);

  it("announces each text to a known customer with its contact and conversation, and keeps the conversation on the last one", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const ids: string[] = [];
    for (const body of ["one", "two", "three"]) {
      ids.push((await sendText(key, id, body)).json.id);
      await waitFor(async () => (await messageOf(key, ids.at(-1)!)).status === "sent", 5_000, `"${body}" to be sent`);
    }
    const events = await eventsUntil(key, (es) => es.filter((e) => e.type === "message.sent").length === 3);
    const announced = events.filter((e) => e.type === "message.sent");
    expect(announced.map((e) => e.payload.message_id)).toEqual(ids);
    const [{ contact_id, conversation_id }] = announced;
    expect(contact_id).toEqual(expect.any(String));
    expect(conversation_id).toEqual(expect.any(String));
    expect(announced.every((e) => e.contact_id === contact_id && e.conversation_id === conversation_id)).toBe(true);
    expect(await conversationRow(projectId)).toMatchObject({ id: conversation_id, contact_id, last_message_id: ids[2], unread_count: 0 });
    expect((await contactRow(projectId)).results).toMatchObject([{ id: contact_id, message_count: 3 }]);

    // A receipt for the last one: its status event names the same contact and conversation.
    fleet.socket.event("message.status", { wa_message_id: fleet.sends[2]!.wa_message_id, chat_jid: CUSTOMER_JID, status: "read" });
    const withRead = await eventsUntil(key, (es) => es.some((e) => e.type === "message.status"));
    expect(withRead.find((e) => e.type === "message.status")).toMatchObject({ contact_id, conversation_id, payload: { message_id: ids[2], status: "read" } });
  }, 30_000);
});

describe("a receipt", () => {
  it("moves its message in one D1 round trip, found by WhatsApp id; an unknown id or a stale step writes nothing", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const message = (await sendText(key, id, "hello")).json.id as string;
    await markSent(db(env.DB), projectId, message, sent());
    const waId = (await messageOf(key, message)).wa_message_id as string;

    const counted = countingEnv();
    const read = await applyReceipt(db(counted.env.DB), projectId, id, { wa_message_id: waId, chat_jid: CUSTOMER_JID, status: "read", error_code: null });
    expect(counted.trips.count).toBe(1);
    expect(read).toMatchObject({ id: message, status: "read" });

    // Late "delivered" after "read", and a receipt for a message we never sent: nothing moves.
    const late = countingEnv();
    expect(await applyReceipt(db(late.env.DB), projectId, id, { wa_message_id: waId, chat_jid: CUSTOMER_JID, status: "delivered", error_code: null })).toBeNull();
    expect(await applyReceipt(db(late.env.DB), projectId, id, { wa_message_id: "3EB0UNKNOWN", chat_jid: CUSTOMER_JID, status: "read", error_code: null })).toBeNull();
    expect(late.trips.count).toBe(2);
    // Another number's receipt for the same WhatsApp id does not move ours.
    expect(await applyReceipt(db(env.DB), projectId, "another-instance", { wa_message_id: waId, chat_jid: CUSTOMER_JID, status: "played", error_code: null })).toBeNull();
    expect((await messageOf(key, message)).history.map((h: { status: string }) => h.status)).toEqual(["queued", "sent", "read"]);
    const counts = (await call("/metrics", { token: key })).json.totals;
    expect(counts).toMatchObject({ sent: 1, delivered: 1, read: 1, played: 0 });
  }, 30_000);
});

/**
 * The console's Inbox and Messages views in real Chromium, against the real
 * edge, fleet and WhatsApp-protocol peers. A customer writes to one of two
 * numbers (the peer puts the message on that number's socket); the operator
 * sees it arrive, replies from the inbox and the customer's WhatsApp gets
 * the reply from the number they wrote to; statuses change on screen as
 * events arrive, never by reloading. (The peer sends no delivery or read
 * receipts for our sends, so the live change seen is queued -> sent.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, signIn } from "../harness/browser.ts";
import type { Instance } from "../harness/client.ts";
import type { Peer } from "../harness/peers.ts";
import { summarize } from "../peer/decode.ts";
import { encryptVote } from "../peer/poll-vote.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type Conversation = { chat_jid: string; unread_count: number; instance_id: string };
type Message = { id: string; status: string; instance_id: string; history: { status: string }[] };

const stack = useStack("console-inbox", 2);
let browser: ConsoleBrowser;
let numbers: Instance[];
/** The number the customer writes to: the second, so a reply through any other would show at the wrong peer. */
let number: Instance;
let peer: Peer;
const customer = "5511966600001";
const customerJid = `${customer}@s.whatsapp.net`;
let firstWaId: string;
let replyId: string;
const reply = "Chegou sim! Entregamos hoje às 10h.";

beforeAll(async () => {
  ({ instances: numbers } = await stack.fleetWithNumbers(2, { timeoutMs: 60_000 }));
  number = numbers[1]!;
  peer = stack.peers.peers[1]!;
  // A gap between a number's sends, so a reply waits queued for a few seconds behind the one before it.
  await stack.api.call("PATCH", "/settings", { pacing: { enabled: true, min_gap_ms: 6_000, max_gap_ms: 6_000, typing: false }, warming_days: 0 });
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const row = () => browser.page.locator(`tr[data-conversation="${customerJid}"]`);
const bubble = (id: string) => browser.page.locator(`article.bubble[data-message="${id}"]`);
/** Set once the page is loaded; a reload would clear it. */
const markPage = () => browser.page.evaluate(() => ((globalThis as unknown as { __same_page: boolean }).__same_page = true));
const samePage = () => browser.page.evaluate(() => (globalThis as unknown as { __same_page?: boolean }).__same_page === true);

describe("console: inbox", () => {
  it("shows a customer's first message live, as a conversation on the number they wrote to, unread, with its 24-hour window open", async () => {
    const { page } = browser;
    await signIn(page, stack.edge.url, stack.api.token, "inbox");
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    await page.locator('[data-stream="live"]').waitFor();
    await markPage();

    firstWaId = await peer.inject({ chatJid: customerJid, senderJid: customerJid, pushName: "Maria", text: "Olá, meu pedido chegou?" });
    await row().waitFor({ timeout: 15_000 });
    expect(await row().locator("a").first().textContent()).toBe("Maria");
    expect(await row().textContent()).toContain(number.name);
    expect(await row().locator('[data-field="unread"]').textContent()).toBe("1");
    expect(await row().locator('[data-field="window"]').textContent()).toMatch(/open.*2[34] h \d+ min left/);
    expect(await samePage()).toBe(true);

    // Filtered to the other number, the conversation is not there; back to every number, it is.
    const filter = page.getByLabel("Only conversations held by this number");
    await filter.selectOption(numbers[0]!.id);
    await page.getByText("No conversations on this number yet.").waitFor();
    expect(await row().count()).toBe(0);
    await filter.selectOption("");
    await row().waitFor();
    await browser.screenshot("inbox");
  });

  it("replies from the conversation, quoting the customer: shown queued at once, then sent without a reload, and the customer's WhatsApp gets it from the same number", async () => {
    const { page } = browser;
    await row().locator("a").first().click();
    const conversation = page.locator(`article.conversation[data-chat="${customerJid}"]`);
    await conversation.getByText("Olá, meu pedido chegou?").waitFor();
    expect(await conversation.locator('[data-field="window"]').textContent()).toMatch(/24-hour window open: 2[34] h \d+ min left/);

    // The number sends something else first, so the pacing gap keeps the reply queued for a moment.
    await stack.api.call("POST", "/messages/text", { to: "5511966600999@s.whatsapp.net", body: "primeiro", instance_id: number.id }, 202);
    await conversation.locator("article.bubble.in").getByText("reply to this").click();
    await conversation.getByLabel("Reply").fill(reply);
    await conversation.getByRole("button", { name: "Send" }).click();

    const mine = conversation.locator("article.bubble.out").filter({ hasText: reply });
    await mine.waitFor();
    replyId = (await mine.getAttribute("data-message"))!;
    expect(await mine.getAttribute("data-status")).toBe("queued");
    expect(await mine.locator("blockquote.quoted").textContent()).toBe("Olá, meu pedido chegou?");
    await expect.poll(() => mine.getAttribute("data-status"), { timeout: 30_000 }).toBe("sent");
    // The list moved on too: the reply is the last message, and nothing is unread once answered.
    await expect.poll(() => row().textContent()).toContain(`You: ${reply}`);
    expect(await row().locator('[data-field="unread"]').textContent()).toBe("0");
    expect(await samePage()).toBe(true);

    const got = await peer.waitForAccepted((m) => m.to === customerJid, 10_000);
    expect(got.message.extendedTextMessage?.text).toBe(reply);
    expect(got.message.extendedTextMessage?.contextInfo?.stanzaId).toBe(firstWaId);
    // Through the number the customer wrote to, never the other.
    expect(stack.peers.peers[0]!.accepted().filter((m) => m.to === customerJid)).toEqual([]);
    const stored = await stack.api.call<Message>("GET", `/messages/${replyId}`);
    expect(stored).toMatchObject({ instance_id: number.id, status: "sent" });
  });

  it("shows a voice note the customer sends as a player whose signed link serves the recording, and a poll with the customer's vote counted", async () => {
    const { page } = browser;
    const audio = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31 + 7) % 256));
    await peer.inject({ chatJid: customerJid, senderJid: customerJid, pushName: "Maria", audio: { contentBase64: audio.toString("base64"), mimeType: "audio/ogg; codecs=opus", ptt: true } });
    const player = page.locator("article.bubble.in audio");
    await player.waitFor({ timeout: 15_000 });
    const src = (await player.getAttribute("src"))!;
    expect(src).toMatch(new RegExp(`^${stack.edge.url}/media/[^?]+\\?exp=\\d+&sig=`));
    const bytes = await page.evaluate(async (url) => [...new Uint8Array(await (await fetch(url)).arrayBuffer())], src);
    expect(Buffer.from(bytes).equals(audio)).toBe(true);

    await stack.api.call("POST", "/messages/poll", { to: customerJid, instance_id: number.id, name: "Qual horário?", options: ["Manhã", "Tarde"] }, 202);
    const poll = page.locator("article.bubble.out .poll");
    await poll.waitFor({ timeout: 15_000 });
    expect(await poll.locator("li[data-option]").evaluateAll((items) => items.map((li) => li.getAttribute("data-option")))).toEqual(["Manhã", "Tarde"]);
    expect(await poll.locator('[data-field="votes"]').allTextContents()).toEqual(["0", "0"]);

    // The customer votes, then changes their mind: the poll counts their latest vote only, live.
    const sent = await peer.waitForAccepted((m) => m.to === customerJid && summarize(m.message).type === "poll");
    const { message_secret } = summarize(sent.message) as { message_secret: string };
    const vote = async (options: string[]) => {
      const v = encryptVote({ secret: Buffer.from(message_secret, "base64"), pollId: sent.id, creator: peer.selfJid, voter: customerJid, options });
      await peer.inject({ chatJid: customerJid, senderJid: customerJid, pushName: "Maria", pollVote: { pollId: sent.id, encPayload: v.enc_payload.toString("base64"), encIv: v.enc_iv.toString("base64") } });
    };
    await vote(["Manhã"]);
    await expect.poll(() => poll.locator('[data-field="votes"]').allTextContents(), { timeout: 15_000 }).toEqual(["1", "0"]);
    await vote(["Tarde"]);
    await expect.poll(() => poll.locator('[data-field="votes"]').allTextContents(), { timeout: 15_000 }).toEqual(["0", "1"]);
    expect(await poll.textContent()).toContain("1 vote");
    await browser.screenshot("conversation");
  });

  it("marks the conversation read: its unread count goes to 0 on screen and in the API, and the customer gets the read receipt", async () => {
    const { page } = browser;
    await peer.inject({ chatJid: customerJid, senderJid: customerJid, pushName: "Maria", text: "Obrigada!" });
    await expect.poll(() => row().locator('[data-field="unread"]').textContent(), { timeout: 15_000 }).not.toBe("0");
    await page.locator("article.conversation").getByRole("button", { name: "Mark read" }).click();
    await expect.poll(() => row().locator('[data-field="unread"]').textContent()).toBe("0");
    const { data } = await stack.api.call<{ data: Conversation[] }>("GET", "/conversations");
    expect(data.find((c) => c.chat_jid === customerJid)?.unread_count).toBe(0);
    await waitFor(
      () => peer.clientNodes().some((n) => n.tag === "receipt" && n.attrs.type === "read" && n.attrs.to === customerJid),
      10_000,
      { what: "the read receipt at the customer's WhatsApp" },
    );
  });
});

describe("console: messages", () => {
  it("finds the reply by status and chat, and its page shows its status history", async () => {
    const { page } = browser;
    await page.goto(`${stack.edge.url}/console/#/messages`);
    await page.getByRole("heading", { name: "Messages" }).waitFor();
    await page.locator("details.dropdown summary").click();
    await page.locator('input[name="status"][value="sent"]').check();
    await page.locator("details.dropdown summary").click();
    await page.getByLabel("Chat").fill(`+${customer}`);
    await page.getByRole("button", { name: "Search" }).click();
    expect(page.url()).toContain("status=sent");
    // Only sent messages to this customer: the reply and the poll, not what the customer wrote (the unfiltered list showed those).
    const shown = () => page.locator("tbody tr[data-message]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-message")));
    await expect.poll(async () => (await shown()).length).toBe(2);
    expect(await shown()).toContain(replyId);
    await browser.screenshot("messages");

    await page.locator(`tr[data-message="${replyId}"]`).getByText(reply).click();
    await page.getByRole("heading", { name: "Sent text" }).waitFor();
    expect(await page.locator("table.history tr[data-status]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")))).toEqual(
      (await stack.api.call<Message>("GET", `/messages/${replyId}`)).history.map((h) => h.status),
    );
    expect(await page.locator("table.history tr[data-status]").count()).toBeGreaterThanOrEqual(2);
    await browser.screenshot("message");
  });

  it("cancels a queued message after a confirmation, and it never reaches the customer", async () => {
    const { page } = browser;
    // A 10-minute gap between this number's sends: the next one waits queued.
    await stack.api.call("PATCH", "/settings", { pacing: { enabled: true, min_gap_ms: 600_000, max_gap_ms: 600_000 } });
    const text = "Esta mensagem vai ser cancelada";
    const queued = await stack.api.call<{ id: string }>("POST", "/messages/text", { to: customerJid, instance_id: number.id, body: text, reference: "cancel-me" }, 202);

    await page.goto(`${stack.edge.url}/console/#/messages?reference=cancel-me`);
    const found = page.locator(`tr[data-message="${queued.id}"]`);
    await found.waitFor();
    expect(await found.locator(".badge").textContent()).toBe("queued");
    await found.getByText(text).click();

    const cancel = page.getByRole("button", { name: "Cancel message" });
    // Dismissing the confirmation changes nothing.
    page.once("dialog", (d) => void d.dismiss());
    await cancel.click();
    expect((await stack.api.call<Message>("GET", `/messages/${queued.id}`)).status).toBe("queued");
    page.once("dialog", (d) => void d.accept());
    await cancel.click();
    await expect.poll(() => page.locator(".message-detail .toolbar .badge").textContent()).toBe("canceled");
    expect((await stack.api.call<Message>("GET", `/messages/${queued.id}`)).status).toBe("canceled");
    expect(peer.accepted().some((m) => m.message.conversation === text || m.message.extendedTextMessage?.text === text)).toBe(false);
  });

  it("loaded nothing from outside this machine and threw no script errors", () => {
    expect(browser.offsite).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});

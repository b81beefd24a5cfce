/**
 * The console's Contacts and Webhooks views in real Chromium, against the
 * real edge, fleet and WhatsApp-protocol peer, with a customer's webhook
 * endpoint on loopback (the harness lets webhooks reach it:
 * POMBO_ALLOW_PRIVATE_NETWORKS). The operator clicks and types; each test
 * then checks what the API and the endpoint saw.
 *
 * Webhook retries wait 5 to 10 minutes here (POMBO_WEBHOOK_RETRY_BASE_S=600),
 * so a failed delivery stays failed until the operator replays it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, signIn } from "../harness/browser.ts";
import type { Peer } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";
import { WebhookReceiver } from "../harness/webhook-receiver.ts";

type Contact = { id: string; phone: string; status: string; tags: string[] };
type Delivery = { event_id: string; status: string; attempts: number; history: { status_code: number | null }[] };

const stack = useStack("console-crm", 1, { edgeVars: { POMBO_WEBHOOK_RETRY_BASE_S: "600" } });
const receiver = new WebhookReceiver();
let browser: ConsoleBrowser;
let peer: Peer;
let webhookId: string;
let firstSecret: string;
let seq = 0;

/** A customer on WhatsApp: digits and JID. */
const customer = () => {
  const phone = `55119765${String(++seq).padStart(5, "0")}`;
  stack.peers.directory.register(phone);
  return { phone, jid: `${phone}@s.whatsapp.net` };
};

/** The customer writes to the number from their phone (the peer puts it on the number's socket). */
const customerWrites = (jid: string, text: string) => peer.inject({ chatJid: jid, senderJid: jid, text, pushName: "Maria" });

const contactOf = (phone: string) =>
  waitFor(
    async () => (await stack.api.call<{ data: Contact[] }>("GET", `/contacts?search=${phone}`)).data.find((c) => c.phone === `+${phone}`) ?? null,
    15_000,
    { what: `the contact of ${phone}` },
  );

const sendTo = (phone: string) => stack.api.raw<any>("POST", "/messages/text", { to: `+${phone}`, body: "Promoção!" });

beforeAll(async () => {
  await stack.fleetWithNumbers(1, { timeoutMs: 60_000 });
  peer = stack.peers.peers[0]!;
  await receiver.up();
  browser = await openBrowser();
  // Destructive actions ask first; the operator says yes.
  browser.page.on("dialog", (dialog) => void dialog.accept());
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.edge.url });
  await signIn(browser.page, stack.edge.url, stack.api.token, "webhooks");
});
afterAll(async () => {
  await browser?.close();
  await receiver.close();
});

describe("console: webhooks", () => {
  it("adds an endpoint: the signing secret is shown once (it verifies deliveries), never after a reload, and the API lists the endpoint", async () => {
    const { page } = browser;
    await page.getByRole("heading", { name: "Webhooks" }).waitFor();
    await page.getByText("No endpoints yet").waitFor();
    await page.getByLabel("URL").fill(receiver.url);
    await page.getByLabel("Description").fill("CRM inbox");
    await page.locator('input[name="events"][value="*"]').uncheck();
    await page.locator('input[name="events"][value="message.received"]').check();
    await page.getByRole("button", { name: "Add endpoint" }).click();

    const shown = page.locator("input[data-secret]");
    await shown.waitFor();
    const secret = await shown.inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await page.getByText("not show it again").waitFor();
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(secret);
    // The secret the page showed is the endpoint's: deliveries signed with it verify.
    receiver.secret = secret;
    firstSecret = secret;

    const { data } = await stack.api.call<{ data: Record<string, unknown>[] }>("GET", "/webhooks");
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ url: receiver.url, events: ["message.received"], description: "CRM inbox", enabled: true });
    expect(JSON.stringify(data)).not.toContain(secret);
    webhookId = data[0]!.id as string;

    await page.reload();
    const row = page.locator(`tr[data-webhook="${webhookId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("message.received");
    expect(await page.locator("input[data-secret]").count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    await browser.screenshot("webhooks");
  });

  it("replays a failed delivery: the operator sees the endpoint's 500, replays once it works, and the endpoint gets the same event (same webhook-id)", async () => {
    const { page } = browser;
    receiver.failWith = 500;
    const who = customer();
    await customerWrites(who.jid, "Olá, preciso de ajuda com meu pedido");
    const event = await receiver.waitForEvent((e) => e.type === "message.received" && e.payload?.body === "Olá, preciso de ajuda com meu pedido");
    expect(receiver.deliveries.filter((d) => d.id === event.id).map((d) => d.answered)).toEqual([500]);

    await page.locator(`tr[data-webhook="${webhookId}"] a`).first().click();
    const row = page.locator(`tr[data-event="${event.id}"]`);
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 20_000 }).toBe("retrying");
    expect(await row.locator('[data-field="answer"]').textContent()).toBe("HTTP 500");
    await row.getByRole("link").click();
    const firstAttempt = page.locator('tr.attempts tr[data-attempt="1"]');
    expect(await firstAttempt.textContent()).toContain("HTTP 500");
    // What the endpoint said, so the operator sees why it refused.
    expect(await firstAttempt.locator('[data-field="response-body"]').textContent()).toBe("failing on purpose");
    await page.evaluate("window.scrollTo(0, 0)");
    await browser.screenshot("deliveries");

    receiver.failWith = null;
    await row.getByRole("button", { name: "Replay" }).click();
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 20_000 }).toBe("delivered");
    expect(await row.locator('[data-field="answer"]').textContent()).toBe("HTTP 200");
    expect(await page.locator('tr.attempts tr[data-attempt="2"]').textContent()).toContain("HTTP 200");

    // The endpoint got the same event twice, under one webhook-id: failed, then accepted and verified.
    const got = receiver.deliveries.filter((d) => d.id === event.id);
    expect(got.map((d) => d.answered)).toEqual([500, 200]);
    expect(got.every((d) => d.valid && d.event.id === event.id)).toBe(true);
    const { data } = await stack.api.call<{ data: Delivery[] }>("GET", `/webhooks/${webhookId}/deliveries`);
    const delivery = data.find((d) => d.event_id === event.id)!;
    expect(delivery).toMatchObject({ status: "delivered", attempts: 2 });
    expect(delivery.history.map((a) => a.status_code)).toEqual([500, 200]);
  });

  it("rotates the secret (the new one, shown once, signs what follows), disables and re-enables the endpoint, and deletes it after asking", async () => {
    const { page } = browser;
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const shown = page.locator("input[data-secret]");
    await shown.waitFor();
    const rotated = await shown.inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(firstSecret);
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await shown.count()).toBe(0);
    receiver.secret = rotated;
    const who = customer();
    await customerWrites(who.jid, "Segunda mensagem");
    const event = await receiver.waitForEvent((e) => e.payload?.body === "Segunda mensagem");
    expect(receiver.deliveries.find((d) => d.id === event.id)?.valid).toBe(true);

    await page.getByRole("button", { name: "Disable" }).click();
    await page.locator('hgroup [data-value="disabled"]').waitFor();
    expect(await page.locator("hgroup").textContent()).toContain("nothing is sent to it");
    expect((await stack.api.call<{ enabled: boolean }>("GET", `/webhooks/${webhookId}`)).enabled).toBe(false);
    await page.getByRole("button", { name: "Enable again" }).click();
    await page.locator('hgroup [data-value="enabled"]').waitFor();
    expect((await stack.api.call<{ enabled: boolean }>("GET", `/webhooks/${webhookId}`)).enabled).toBe(true);

    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByText("No endpoints yet").waitFor();
    expect((await stack.api.raw("GET", `/webhooks/${webhookId}`)).status).toBe(404);
  });
});

describe("console: contacts", () => {
  it("the customer who wrote is in the list; their profile shows the message; a tag, a note, opt-out (sends refused) and opt-in", async () => {
    const { page } = browser;
    const who = customer();
    await customerWrites(who.jid, "Vocês entregam em Porto Alegre?");
    const contact = await contactOf(who.phone);

    await page.goto(`${stack.edge.url}/console/#/contacts`);
    const row = page.locator(`tr[data-contact="${contact.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain(`+${who.phone}`);
    expect(await row.locator(".badge").textContent()).toBe("active");
    // Someone new writes while the list is open: they appear without a reload.
    const next = customer();
    await customerWrites(next.jid, "Oi!");
    await page.locator("tr[data-contact]", { hasText: `+${next.phone}` }).waitFor({ timeout: 15_000 });
    await browser.screenshot("contacts");

    await row.getByRole("link").click();
    const message = page.locator('li[data-entry="message"]', { hasText: "Vocês entregam em Porto Alegre?" });
    await message.waitFor();
    expect(await message.textContent()).toContain("they wrote");

    await page.getByLabel("Add a tag").fill("VIP");
    await page.locator('[data-keys="tags"]').getByRole("button", { name: "Add" }).click();
    await page.locator('[data-keys="tags"] [data-chip="vip"]').waitFor();
    await page.locator('li[data-type="tag_added"]').waitFor();
    await page.getByLabel("Note").fill("Prefere atendimento depois das 18h");
    await page.getByRole("button", { name: "Add note" }).click();
    await page.locator('li[data-type="note"]', { hasText: "Prefere atendimento depois das 18h" }).waitFor();
    const history = await stack.api.call<{ data: { type: string; payload: Record<string, unknown> }[] }>("GET", `/contacts/${contact.id}/history`);
    expect(history.data.find((e) => e.type === "note")?.payload.body).toBe("Prefere atendimento depois das 18h");
    expect((await stack.api.call<Contact>("GET", `/contacts/${contact.id}`)).tags).toEqual(["vip"]);

    await page.getByLabel("Why").fill("pediu por telefone");
    await page.getByRole("button", { name: "Opt out" }).click();
    await expect.poll(() => page.locator("hgroup .badge").textContent()).toBe("opted_out");
    await page.locator('li[data-type="opted_out"]', { hasText: "pediu por telefone" }).waitFor();
    const refused = await sendTo(who.phone);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: "recipient_opted_out", details: { field: "to" } });
    await page.evaluate("window.scrollTo(0, 0)");
    await browser.screenshot("contact");

    await page.getByRole("button", { name: "Opt back in" }).click();
    await expect.poll(() => page.locator("hgroup .badge").textContent()).toBe("active");
    expect((await stack.api.call<Contact>("GET", `/contacts/${contact.id}`)).status).toBe("active");
    expect((await sendTo(who.phone)).status).toBe(202);

    // The tag filter finds them, and only them.
    await page.goto(`${stack.edge.url}/console/#/contacts?tags=vip`);
    await page.locator(`tr[data-contact="${contact.id}"]`).waitFor();
    expect(await page.locator("tr[data-contact]").count()).toBe(1);
  });

  it("suppresses a number from the suppression list (sends to it refused), then takes it off again", async () => {
    const { page } = browser;
    await page.goto(`${stack.edge.url}/console/#/contacts/suppressions`);
    await page.getByRole("heading", { name: "Suppression list" }).waitFor();
    await page.getByLabel("Phone to suppress").fill("+55 11 91234-5678");
    await page.getByLabel("Why").fill("pediu por email");
    await page.getByRole("button", { name: "Suppress" }).click();
    const row = page.locator('tr[data-suppression="+5511912345678"]');
    await row.waitFor();
    expect(await row.textContent()).toContain("pediu por email");

    const listed = await stack.api.call<{ data: { phone: string; reason: string }[] }>("GET", "/suppressions");
    expect(listed.data).toContainEqual(expect.objectContaining({ phone: "+5511912345678", reason: "manual" }));
    const refused = await sendTo("5511912345678");
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe("recipient_suppressed");

    await row.getByRole("button", { name: "Remove" }).click();
    await row.waitFor({ state: "detached" });
    const after = await stack.api.call<{ data: { phone: string }[] }>("GET", "/suppressions");
    expect(after.data.map((s) => s.phone)).not.toContain("+5511912345678");
  });

  it("loaded nothing from outside this machine and threw no script errors", () => {
    expect(browser.offsite).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});

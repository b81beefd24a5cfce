/**
 * The console's Metrics view in real Chromium against the real edge, fleet
 * and WhatsApp-protocol peer: the test sends texts through a number and has
 * a customer write to it through the peer, then reads what the page shows
 * for the project, the number's row and the number's own chart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, signIn } from "../harness/browser.ts";
import type { Instance } from "../harness/client.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

const stack = useStack("console-metrics", 1);
let browser: ConsoleBrowser;
let number: Instance;
const customerJid = "5511966600077@s.whatsapp.net";
const SENT = 3;
const RECEIVED = 2;

beforeAll(async () => {
  number = (await stack.fleetWithNumbers(1, { timeoutMs: 60_000 })).instances[0]!;
  await stack.api.call("PATCH", "/settings", { pacing: { enabled: false }, warming_days: 0 });
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("console: metrics", () => {
  it("shows the messages the test sent and received, for the project, in the number's row and on the number's own chart", async () => {
    const ids: string[] = [];
    for (let i = 0; i < SENT; i++) {
      ids.push((await stack.api.call<{ id: string }>("POST", "/messages/text", { to: customerJid, instance_id: number.id, body: `metrics ${i}` }, 202)).id);
    }
    for (const id of ids) {
      await waitFor(async () => (await stack.api.call<{ status: string }>("GET", `/messages/${id}`)).status !== "queued" || null, 15_000, { what: `${id} sent` });
    }
    const peer = stack.peers.peers[0]!;
    for (let i = 0; i < RECEIVED; i++) await peer.inject({ chatJid: customerJid, senderJid: customerJid, pushName: "Maria", text: `olá ${i}` });
    await waitFor(
      async () => (await stack.api.call<{ data: unknown[] }>("GET", "/messages?direction=inbound")).data.length === RECEIVED || null,
      15_000,
      { what: "the customer's messages stored" },
    );

    const { page } = browser;
    await signIn(page, stack.edge.url, stack.api.token, "metrics");
    await page.getByRole("heading", { name: "Metrics" }).waitFor();
    const totals = page.getByRole("table", { name: "Totals" });
    await expect.poll(() => totals.locator('[data-metric="sent"]').textContent(), { timeout: 10_000 }).toBe(String(SENT));
    expect(await totals.locator('[data-metric="received"]').textContent()).toBe(String(RECEIVED));
    expect(await totals.locator('[data-metric="failed"]').textContent()).toBe("0");
    expect(await totals.locator('[data-metric="latency"]').textContent()).toMatch(/\d+(\.\d)? m?s \/ \d+(\.\d)? m?s/);
    // uPlot drew the series on a canvas.
    expect(await page.locator(".metrics-chart canvas").count()).toBeGreaterThan(0);
    const row = page.locator(`tr[data-instance="${number.id}"]`);
    expect(await row.locator('[data-metric="sent"]').textContent()).toBe(String(SENT));
    expect(await row.locator('[data-metric="received"]').textContent()).toBe(String(RECEIVED));
    await browser.screenshot("metrics");

    // The number's own chart: its totals are the same (it is the project's only number), by day over 7 days too.
    await row.getByRole("link").click();
    await page.getByRole("link", { name: "← All numbers" }).waitFor();
    await expect.poll(() => page.locator(".metrics-chart .u-title").textContent(), { timeout: 10_000 }).toContain(number.name);
    expect(await totals.locator('[data-metric="sent"]').textContent()).toBe(String(SENT));
    await page.getByLabel("Range").selectOption("7d");
    await expect.poll(() => page.locator(".metrics-chart .u-title").textContent(), { timeout: 10_000 }).toContain("by day");
    expect(await totals.locator('[data-metric="received"]').textContent()).toBe(String(RECEIVED));
    await browser.screenshot("metrics-number");

    expect(browser.offsite).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});

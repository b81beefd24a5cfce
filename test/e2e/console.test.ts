/**
 * The operator console (console/, served by the edge from Workers static
 * assets) and the API reference at /docs, in real Chromium against the real
 * edge, fleet and WhatsApp-protocol peer. Pages may reach only loopback: a
 * request to anywhere else is refused and fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, signIn } from "../harness/browser.ts";
import type { Instance } from "../harness/client.ts";
import { useStack } from "../harness/use-stack.ts";

const stack = useStack("console", 1);
let browser: ConsoleBrowser;
let number: Instance;
let apiKey: string;

beforeAll(async () => {
  const { instances } = await stack.fleetWithNumbers(1, { timeoutMs: 60_000 });
  number = instances[0]!;
  apiKey = stack.api.token;
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("console", () => {
  it("refuses a wrong key, then signs in with the project's key kept in the tab's session storage, never in a URL", async () => {
    const { page } = browser;
    await signIn(page, stack.edge.url, "pb_live_not-a-key");
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/invalid or revoked API key/);
    await signIn(page, stack.edge.url, apiKey);
    await page.getByRole("heading", { name: "Numbers" }).waitFor();
    expect(page.url()).not.toContain(apiKey);
    expect(await page.evaluate(() => sessionStorage.getItem("pombo.project_key"))).toBe(apiKey);
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
  });

  it("shows the connected number with its health, state and fleet process", async () => {
    const { page } = browser;
    const row = page.locator(`tr[data-instance="${number.id}"]`);
    await expect.poll(() => row.locator('[data-field="state"] .badge').first().textContent()).toBe("connected");
    expect(await row.locator('[data-field="health"]').textContent()).toBe(String(number.health));
    expect(await row.textContent()).toContain(stack.fleets[0]!.fleetId);
    await browser.screenshot("numbers");
  });

  it("shows the operator the fleet processes after an admin sign-in", async () => {
    const { page } = browser;
    await signIn(page, stack.edge.url, stack.edge.adminToken, "fleets");
    const row = page.locator(`tr[data-fleet="${stack.fleets[0]!.fleetId}"]`);
    await row.waitFor();
    expect(await row.locator("td").nth(3).textContent()).toBe("1");
    await browser.screenshot("fleets");
  });

  it("loaded nothing from outside this machine and threw no script errors", () => {
    expect(browser.offsite).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});

describe("/docs", () => {
  it("renders the API reference offline, opening on how to authenticate", async () => {
    const docs = await openBrowser();
    try {
      await docs.page.goto(`${stack.edge.url}/docs`);
      await docs.page.getByText("Authorization: Bearer pb_live_").first().waitFor({ timeout: 30_000 });
      await docs.screenshot("docs");
      await docs.page.getByText("Messages", { exact: true }).first().waitFor();
      // Fonts aside (the page falls back to the system's), nothing the page needs comes from outside.
      expect(docs.offsite.filter((url) => !/\.(woff2?|ttf)(\?|$)/.test(url) && !url.includes("fonts."))).toEqual([]);
    } finally {
      await docs.close();
    }
  });
});

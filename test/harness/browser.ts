/**
 * A real browser for the console's tests: Debian's Chromium, driven by
 * playwright-core (no browser download). Only loopback is reachable from its
 * pages, and every request that tried to leave is recorded, so a test can
 * prove a page needs no CDN. Screenshots land in the suite's temporary folder
 * (`$TMPDIR/pombo-console-screenshots/`), kept after the run as artifacts.
 */
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.POMBO_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(tmpdir(), "pombo-console-screenshots");

// Without these, Chromium keeps calling Google's hosts, which this machine refuses, many at a time.
const QUIET = [
  "--no-sandbox",
  "--headless=new",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface ConsoleBrowser {
  page: Page;
  context: BrowserContext;
  /** Requests a page made to anything but loopback (all refused). */
  offsite: string[];
  /** Errors the page's scripts threw or logged. */
  pageErrors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

const LOOPBACK = /^(https?|wss?):\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

export async function openBrowser(): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set POMBO_CHROMIUM)`);
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: QUIET });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const offsite: string[] = [];
  const pageErrors: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (LOOPBACK.test(url) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    offsite.push(url);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  // A refused request (a 401 the test asked for) is the browser's log line, not the page's error.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageErrors.push(msg.text());
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    page,
    context,
    offsite,
    pageErrors,
    async screenshot(name) {
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    close: () => browser.close(),
  };
}

/** Signs the console in with a project key (or the admin token) through its own form, as an operator would. */
export async function signIn(page: Page, baseUrl: string, secret: string, view = "numbers") {
  await page.goto(`${baseUrl}/console/#/${view}`);
  await page.locator('input[type="password"]').fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/**
 * The console's Numbers, Pairing, Settings and admin Projects views in real
 * Chromium against the real edge, fleet and WhatsApp-protocol peer, driven
 * as an operator would (clicks, forms), checking what the page shows and
 * what the API then says.
 *
 * Pairing is real end to end: a number created from the console has no
 * session, so its Baileys socket registers with the peer, which answers as
 * WhatsApp does with a `pair-device` IQ of refs (the crabline patch);
 * Baileys turns each ref into a QR, the fleet reports it, the edge emits
 * `instance.qr`, and the page draws it. Nobody can scan it (the peer has no
 * phone), so pairing itself never completes here.
 */
import http from "node:http";
import net from "node:net";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, signIn } from "../harness/browser.ts";
import { Client, type Instance } from "../harness/client.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

// Peer 0: the connected number. Peer 1: where the number created from the console goes to pair.
const stack = useStack("console-numbers", 2);
let browser: ConsoleBrowser;
let number: Instance;

beforeAll(async () => {
  const { instances } = await stack.fleetWithNumbers(1, { timeoutMs: 60_000 });
  number = instances[0]!;
  browser = await openBrowser();
  await signIn(browser.page, stack.edge.url, stack.api.token);
  await browser.page.getByRole("heading", { name: "Numbers" }).waitFor();
});
afterAll(async () => {
  await browser?.close();
});

const row = (page: Page, id: string) => page.locator(`tr[data-instance="${id}"]`);

/** An HTTP CONNECT proxy on loopback that records where each tunnel went. */
async function connectProxy() {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_, res) => res.writeHead(405).end());
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    tunnels,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads the QR drawn on the page's canvas, from a screenshot of it, as a phone's camera would. */
async function decodeShownQr(page: Page): Promise<string | null> {
  const png = PNG.sync.read(await page.locator("canvas.qr").screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
}

describe("numbers", () => {
  it("lists the connected number with its health, warming, fleet process and what its state means; the filter finds it", async () => {
    const { page } = browser;
    const r = row(page, number.id);
    await expect.poll(() => r.locator('[data-field="state"] .badge').first().textContent()).toBe("connected");
    expect(await r.locator('[data-field="health"]').textContent()).toBe(String(number.health));
    expect(await r.locator('[data-field="health"]').getAttribute("class")).toContain("ok");
    expect(await r.locator('[data-field="fleet"]').textContent()).toBe(stack.fleets[0]!.fleetId);
    expect(await r.locator('[data-field="state"]').textContent()).toContain("Online: sending and receiving.");
    expect(await r.locator('[data-field="warming"]').textContent()).toMatch(/^day 1, cap 30\/day$/);
    await browser.screenshot("numbers");

    await page.getByLabel("Filter numbers").fill("no-such-number");
    await expect.poll(() => r.count()).toBe(0);
    expect(await page.getByText("No number matches").count()).toBe(1);
    await page.getByLabel("Filter numbers").fill(number.name);
    await r.waitFor();
    await page.getByLabel("Filter numbers").fill("");
  });

  it("restarts a number from its row and shows it drop and come back connected live, without reloading the page", async () => {
    const { page } = browser;
    const r = row(page, number.id);
    // Every state the row shows, in order, and a mark a reload would wipe.
    // (A string: these tests' types have no DOM.)
    await page.evaluate(`(() => {
      window.notReloaded = true;
      window.seen = [];
      const cell = () => document.querySelector('tr[data-instance="${number.id}"] [data-field="state"] .badge')?.textContent ?? "";
      new MutationObserver(() => window.seen.at(-1) !== cell() && window.seen.push(cell())).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    const socketsBefore = stack.proxy.connectionsTotal(number.id);
    await r.getByRole("button", { name: "Restart" }).click();

    await expect.poll(() => page.evaluate("window.seen"), { timeout: 30_000 }).toContain("connecting");
    await expect.poll(() => r.locator('[data-field="state"] .badge').first().textContent(), { timeout: 30_000 }).toBe("connected");
    expect(await page.evaluate("window.notReloaded")).toBe(true);
    const after = await stack.api.call<Instance>("GET", `/instances/${number.id}`);
    expect(after.state).toBe("connected");
    // A new WhatsApp socket, not the old one reported again.
    expect(stack.proxy.connectionsTotal(number.id)).toBe(socketsBefore + 1);
  });

  it("shows a number's page with its details and settings, and changes a setting from it", async () => {
    const { page } = browser;
    await row(page, number.id).getByRole("link", { name: number.name }).click();
    await page.getByRole("heading", { name: number.name }).waitFor();
    expect(page.url()).toContain(`#/numbers/${number.id}`);
    await page.getByText(stack.fleets[0]!.fleetId).waitFor();
    await page.getByLabel("Ignore group messages").check();
    await expect
      .poll(async () => (await stack.api.call<{ settings: { ignore_groups: boolean } }>("GET", `/instances/${number.id}`)).settings.ignore_groups)
      .toBe(true);
    await page.reload();
    await expect.poll(() => page.getByLabel("Ignore group messages").isChecked()).toBe(true);
    await browser.screenshot("number");
  });
});

describe("proxy", () => {
  it("sets a number's proxy from its page: the fleet reconnects through it at once; clearing it reconnects directly", async () => {
    const { page } = browser;
    const proxy = await connectProxy();
    try {
      const socketsBefore = stack.proxy.connectionsTotal(number.id);
      await page.locator('input[name="proxy_url"]').fill(proxy.url);
      await page.getByRole("button", { name: "Save proxy" }).click();
      // The WhatsApp connection now goes through the proxy, and the number is back online on it.
      const instance = await waitFor(
        async () => {
          const i = await stack.api.call<Instance>("GET", `/instances/${number.id}`);
          if (proxy.tunnels.length === 0 || i.state !== "connected" || stack.proxy.liveCount(number.id) !== 1) throw new Error(`${i.state}, ${proxy.tunnels.length} tunnels`);
          return i;
        },
        30_000,
        { what: "the number connected through its new proxy" },
      );
      expect(instance.proxy_url).toBe(proxy.url);
      expect(proxy.tunnels[0]).toBe(`127.0.0.1:${stack.proxy.port}`);
      expect(stack.proxy.connectionsTotal(number.id)).toBe(socketsBefore + 1);
      await expect.poll(() => page.locator("table.details").textContent()).toContain(proxy.url);

      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByRole("button", { name: "Clear proxy" }).click();
      await waitFor(
        async () => {
          const i = await stack.api.call<Instance>("GET", `/instances/${number.id}`);
          if (i.proxy_url !== null || i.state !== "connected" || stack.proxy.connectionsTotal(number.id) !== socketsBefore + 2) throw new Error(i.state);
          return true;
        },
        30_000,
        { what: "the number connected directly again" },
      );
      expect(proxy.tunnels).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});

describe("pairing", () => {
  let created: Instance;

  it("creates a number from the console and lands on its pairing, where the fleet's real QR is drawn large and decodes to the fleet's QR string", async () => {
    const { page } = browser;
    await page.goto(`${stack.edge.url}/console/#/numbers`);
    await page.getByText("Add a number").click();
    await page.getByLabel("Name").fill("console-made");
    await page.getByRole("button", { name: "Create and pair" }).click();
    created = await waitFor(
      async () => {
        const found = (await stack.api.listAllInstances()).find((i) => i.name === "console-made");
        if (!found) throw new Error("not created yet");
        return found;
      },
      10_000,
      { what: "the number created from the console" },
    );
    // Its WhatsApp connection goes to peer 1, which pairs it.
    stack.proxy.route(created.id, stack.peers.peers[1]!);
    await page.waitForURL(`**/console/#/numbers/${created.id}/pair`);

    await page.locator("canvas.qr").waitFor({ timeout: 60_000 });
    const box = await page.locator("canvas.qr").boundingBox();
    expect(box!.width).toBeGreaterThanOrEqual(300);
    const fleetQr = (await stack.api.call<{ qr: string }>("GET", `/instances/${created.id}/qr`)).qr;
    expect(fleetQr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/);
    await expect.poll(() => decodeShownQr(page)).toBe(fleetQr);
    await browser.screenshot("pairing");
  });

  it("replaces the QR live when WhatsApp sends new refs, with a countdown to the next one", async () => {
    const { page } = browser;
    const canvas = page.locator("canvas.qr");
    const serial = Number(await canvas.getAttribute("data-serial"));
    const [refs] = await stack.peers.peers[1]!.sendPairDevice();
    await expect.poll(() => canvas.getAttribute("data-serial"), { timeout: 15_000 }).toBe(String(serial + 1));
    const shown = await decodeShownQr(page);
    expect(shown).toContain(`#${refs![0]},`);
    expect(shown).toBe((await stack.api.call<{ qr: string }>("GET", `/instances/${created.id}/qr`)).qr);
    expect(Number(await page.locator("[data-countdown]").getAttribute("data-countdown"))).toBeGreaterThan(0);
  });

  it("asks for a pairing code from the same view and shows it big, as the phone's 'link with phone number' wants it", async () => {
    const { page } = browser;
    await page.getByLabel("Phone being paired").fill("+55 11 98888-7777");
    await page.getByRole("button", { name: "Get a code" }).click();
    const code = page.locator(".pairing-code");
    await code.waitFor({ timeout: 30_000 });
    expect(await code.getAttribute("data-code")).toMatch(/^[A-Z0-9]{8}$/);
    expect(await code.textContent()).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  });

  it("deletes the number from the console after a confirmation; the API no longer knows it", async () => {
    const { page } = browser;
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL("**/console/#/numbers");
    await waitFor(
      async () => {
        const r = await stack.api.raw("GET", `/instances/${created.id}`);
        if (r.status !== 404) throw new Error(`still ${r.status}`);
        return true;
      },
      15_000,
      { what: "the deleted number gone" },
    );
    await expect.poll(() => row(page, created.id).count()).toBe(0);
  });
});

describe("settings", () => {
  it("saves a change that is still there after a reload, and shows a refused value next to its field", async () => {
    const { page } = browser;
    await page.goto(`${stack.edge.url}/console/#/settings`);
    const threshold = page.locator('input[name="health_threshold"]');
    await threshold.waitFor();
    await threshold.fill("55");
    await page.locator('input[name="optout_keywords"]').fill("STOP, BASTA");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Saved.").waitFor();
    const saved = await stack.api.call<{ health_threshold: number; optout_keywords: string[] }>("GET", "/settings");
    expect(saved.health_threshold).toBe(55);
    expect(saved.optout_keywords).toEqual(["STOP", "BASTA"]);

    await page.reload();
    await expect.poll(() => page.locator('input[name="health_threshold"]').inputValue()).toBe("55");
    expect(await page.locator('input[name="optout_keywords"]').inputValue()).toBe("STOP, BASTA");

    await page.locator('input[name="health_threshold"]').fill("150");
    await page.getByRole("button", { name: "Save settings" }).click();
    const label = page.locator("label", { has: page.locator('input[name="health_threshold"]') });
    await expect.poll(() => label.getByRole("alert").textContent()).toContain("health_threshold");
    expect(await page.locator('input[name="health_threshold"]').getAttribute("aria-invalid")).toBe("true");
    expect((await stack.api.call<{ health_threshold: number }>("GET", "/settings")).health_threshold).toBe(55);
    await browser.screenshot("settings");
  });

  it("shows the alert URL's signing secret once when the URL is set, and a new one when asked", async () => {
    const { page } = browser;
    await page.locator('input[name="health_threshold"]').fill("55");
    await page.locator('input[name="alert_url"]').fill("http://127.0.0.1:9/alerts");
    await page.getByRole("button", { name: "Save settings" }).click();
    const secret = page.locator("input[data-secret]");
    await secret.waitFor();
    const first = await secret.inputValue();
    expect(first.length).toBeGreaterThan(20);
    expect((await stack.api.call<{ alert_url: string }>("GET", "/settings")).alert_url).toBe("http://127.0.0.1:9/alerts");
    await page.getByRole("button", { name: "I have stored it" }).click();
    await expect.poll(() => secret.count()).toBe(0);

    await page.getByRole("button", { name: "New alert secret" }).click();
    await secret.waitFor();
    expect(await secret.inputValue()).not.toBe(first);
    await page.reload();
    await page.locator('input[name="alert_url"]').waitFor();
    expect(await secret.count()).toBe(0);
  });
});

describe("admin", () => {
  it("creates a project and a key, each shown once, and revokes the key, which the API then refuses", async () => {
    const { page } = browser;
    await signIn(page, stack.edge.url, stack.edge.adminToken, "projects");
    await page.getByLabel("New project's name").fill("made-in-console");
    await page.getByRole("button", { name: "Create project" }).click();
    const secret = page.locator("input[data-secret]");
    await secret.waitFor();
    const firstKey = await secret.inputValue();
    expect(firstKey).toMatch(/^pb_live_/);
    expect(await page.getByText("store it now").count()).toBe(1);
    expect((await new Client(stack.edge.url, firstKey).raw("GET", "/settings")).status).toBe(200);
    await page.getByRole("button", { name: "I have stored it" }).click();
    await expect.poll(() => secret.count()).toBe(0);

    await page.getByRole("link", { name: "made-in-console" }).click();
    await page.getByRole("button", { name: "Create a key" }).click();
    await secret.waitFor();
    const secondKey = await secret.inputValue();
    expect(secondKey).not.toBe(firstKey);
    const second = new Client(stack.edge.url, secondKey);
    expect((await second.raw("GET", "/settings")).status).toBe(200);
    await browser.screenshot("admin");

    const keyRows = page.locator("tr[data-key]");
    await expect.poll(() => keyRows.count()).toBe(2);
    const secondRow = keyRows.filter({ hasText: secondKey.slice(0, 14) });
    page.once("dialog", (dialog) => void dialog.accept());
    await secondRow.getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => secondRow.textContent()).toContain("revoked");
    expect((await second.raw("GET", "/settings")).status).toBe(401);
    expect((await new Client(stack.edge.url, firstKey).raw("GET", "/settings")).status).toBe(200);
  });
});

describe("log out", () => {
  it("logs a number out from its row after a confirmation; the row says what that means and offers pairing", async () => {
    const { page } = browser;
    await page.goto(`${stack.edge.url}/console/#/numbers`);
    const r = row(page, number.id);
    page.once("dialog", (dialog) => void dialog.accept());
    await r.getByRole("button", { name: "Log out" }).click();
    await expect.poll(() => r.locator('[data-field="state"] .badge').allTextContents(), { timeout: 30_000 }).toEqual(["disconnected", "logged_out"]);
    expect(await r.locator('[data-field="state"]').textContent()).toContain("Pair it again");
    expect(await r.getByRole("button", { name: "Pair", exact: true }).getAttribute("href")).toBe(`#/numbers/${number.id}/pair`);
    expect(await r.getByRole("button", { name: "Log out" }).count()).toBe(0);
    expect(await r.locator('[data-field="close"]').textContent()).toContain("401 logged out");
    const after = await stack.api.call<Instance>("GET", `/instances/${number.id}`);
    expect(after).toMatchObject({ state: "disconnected", reason: "logged_out" });
  });

  it("loaded nothing from outside this machine and threw no script errors", () => {
    expect(browser.offsite).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});

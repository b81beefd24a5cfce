/**
 * Where client-given URLs may lead (SSRF), in workerd: names are resolved
 * through the DNS over HTTPS resolver of vitest.config.ts (`doh.test`), and
 * every `*.test` host is the recording receiver there, so a test sees both
 * the answer and whether anything reached the target.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { publish } from "../../edge/services/events.ts";
import { createInstance } from "../../edge/services/instances.ts";
import { storeMedia } from "../../edge/services/media.ts";
import { createWebhook } from "../../edge/services/webhooks.ts";
import { disconnectedEvent } from "./event-fixtures.ts";
import { call, connectInstance, connectedFleet, newInstance, newProject, noPacing, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const TO = "5511988887777@s.whatsapp.net";
const ALLOWED = { ...env, POMBO_ALLOW_PRIVATE_NETWORKS: "true" };

type Hit = { method: string; body: string };
/** A fresh name under .test, answered by the test resolver with `dns`. */
async function nameFor(label: string, dns: { a?: string[]; aaaa?: string[]; ttl?: number; status?: number; http?: number }) {
  const name = `${label.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}.test`;
  await pointName(name, dns);
  return name;
}
const pointName = (name: string, dns: object) => fetch(`http://doh.test/__name/${name}`, { method: "PUT", body: JSON.stringify(dns) });
const hitsAt = async (hostAndPath: string): Promise<Hit[]> => (await fetch(`http://hooks.test/__log/${hostAndPath}`)).json();
const redirect = (hostAndPath: string, location: string) => fetch(`http://hooks.test/__status/${hostAndPath}`, { method: "PUT", body: `302 ${location}` });

const INSIDE = {
  loopback: { a: ["127.0.0.1"] },
  private: { a: ["10.20.30.40"] },
  "loopback v6": { aaaa: ["::1"] },
  metadata: { a: ["169.254.169.254"] },
  "public A, loopback AAAA": { a: ["93.184.215.14"], aaaa: ["::1"] },
};

async function sender() {
  const { api_key: key } = await newProject();
  await noPacing(key);
  const { id } = await newInstance(key);
  await connectedFleet(id);
  return (type: string, media: object) => call(`/messages/${type}`, { method: "POST", token: key, body: { to: TO, media } });
}

const expectNamesTheSetting = (error: { message: string }) => expect(error.message).toContain("POMBO_ALLOW_PRIVATE_NETWORKS=true");

describe("outbound media URLs: the name is resolved and every address checked, on every hop", () => {
  it.each(Object.entries(INSIDE))("a name resolving to %s is refused with 400 and never fetched", async (label, dns) => {
    const send = await sender();
    const host = await nameFor(label.replaceAll(/\W+/g, "-"), dns);
    const res = await send("document", { url: `http://${host}/secret.pdf`, filename: "x.pdf" });
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    expect(res.json.error).toMatchObject({ code: "url_not_allowed", details: { field: "media.url", setting: "POMBO_ALLOW_PRIVATE_NETWORKS" } });
    expectNamesTheSetting(res.json.error);
    expect(await hitsAt(`${host}/secret.pdf`)).toEqual([]);
  });

  it("refuses every spelling of loopback: trailing dot, upper case, short and hex IPv4, IPv4 inside IPv6", async () => {
    const send = await sender();
    for (const url of [
      "http://localhost./a.pdf",
      "http://LOCALHOST/a.pdf",
      "http://api.localhost/a.pdf",
      "http://127.1/a.pdf",
      "http://0x7f.0.0.1/a.pdf",
      "http://2130706433/a.pdf",
      "http://0/a.pdf",
      "http://[::ffff:127.0.0.1]/a.pdf",
      "http://[::127.0.0.1]/a.pdf",
      "http://[0:0:0:0:0:0:0:1]/a.pdf",
    ]) {
      const res = await send("document", { url });
      expect(res.status, url).toBe(400);
      expect(res.json.error.code, url).toBe("url_not_allowed");
      expectNamesTheSetting(res.json.error);
    }
  });

  it("checks the name a redirect leads to, before following it", async () => {
    const send = await sender();
    const outside = await nameFor("cdn", { a: ["93.184.215.14"] });
    const inside = await nameFor("intranet", { a: ["192.168.1.20"] });
    await redirect(`${outside}/file.pdf`, `http://${inside}/admin`);
    const res = await send("document", { url: `http://${outside}/file.pdf` });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "url_not_allowed", details: { field: "media.url" } });
    expect(await hitsAt(`${outside}/file.pdf`)).toHaveLength(1);
    expect(await hitsAt(`${inside}/admin`)).toEqual([]);
  });

  it("fails closed: a name that does not resolve is 400 unresolvable_host, a resolver that fails is 503", async () => {
    const send = await sender();
    const missing = `nowhere-${crypto.randomUUID().slice(0, 8)}.test`;
    const res = await send("document", { url: `http://${missing}/a.pdf` });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "unresolvable_host", details: { field: "media.url" } });
    expect(await hitsAt(`${missing}/a.pdf`)).toEqual([]);

    const down = await nameFor("down", { http: 502 });
    const failed = await send("document", { url: `http://${down}/a.pdf` });
    expect(failed.status).toBe(503);
    expect(failed.json.error).toMatchObject({ code: "dns_unavailable", details: { field: "media.url" } });
    expect(await hitsAt(`${down}/a.pdf`)).toEqual([]);
  });

  it("takes a public name, and a private one when the operator allows private networks", async () => {
    const send = await sender();
    const outside = await nameFor("files", { a: ["93.184.215.14"] });
    expect((await send("document", { url: `http://${outside}/ok.pdf` })).status).toBe(202);
    const inside = await nameFor("lan", { a: ["127.0.0.1"] });
    const { id: projectId } = await newProject();
    const stored = await storeMedia(ALLOWED, projectId, "document", { url: `http://${inside}/ok.pdf` });
    expect(stored.size).toBe(2);
    expect(await hitsAt(`${inside}/ok.pdf`)).toHaveLength(1);
  });
});

describe("webhook and alert URLs: checked by address when set, and again before every delivery", () => {
  it("POST /webhooks, PATCH /webhooks/{id} and PATCH /settings alert_url refuse a name that resolves inside", async () => {
    const { api_key: key } = await newProject();
    for (const [label, dns] of Object.entries(INSIDE)) {
      const host = await nameFor(label.replaceAll(/\W+/g, "-"), dns);
      const created = await call("/webhooks", { method: "POST", token: key, body: { url: `http://${host}/h` } });
      expect(created.status, label).toBe(400);
      expect(created.json.error).toMatchObject({ code: "private_address", details: { field: "url" } });
      expectNamesTheSetting(created.json.error);
    }
    const inside = await nameFor("rebind", { a: ["127.0.0.1"] });
    const hook = await call("/webhooks", { method: "POST", token: key, body: { url: "http://hooks.test/fine" } });
    expect(hook.status).toBe(201);
    const moved = await call(`/webhooks/${hook.json.id}`, { method: "PATCH", token: key, body: { url: `http://${inside}/h` } });
    expect(moved.status).toBe(400);
    expect(moved.json.error).toMatchObject({ code: "private_address", details: { field: "url" } });
    for (const url of [`http://${inside}/alerts`, "http://localhost./alerts"]) {
      const alert = await call("/settings", { method: "PATCH", token: key, body: { alert_url: url } });
      expect(alert.status, url).toBe(400);
      expect(alert.json.error).toMatchObject({ code: "private_address", details: { field: "alert_url" } });
      expectNamesTheSetting(alert.json.error);
    }
    expect((await call("/settings", { token: key })).json.alert_url ?? null).toBeNull();
    expect((await call(`/webhooks/${hook.json.id}`, { token: key })).json.url).toBe("http://hooks.test/fine");
  });

  it("a name that moved to a private address after it was accepted gets no delivery: the attempt logs why", async () => {
    const { id: projectId, api_key: key } = await newProject();
    const host = await nameFor("moving", { a: ["93.184.215.14"], ttl: 0 });
    const hook = await call("/webhooks", { method: "POST", token: key, body: { url: `http://${host}/h` } });
    expect(hook.status).toBe(201);
    await pointName(host, { a: ["10.0.0.7"], ttl: 0 });
    await publish(env, projectId, disconnectedEvent("i-1"));
    let delivery: any;
    await waitFor(
      async () => (delivery = (await call(`/webhooks/${hook.json.id}/deliveries`, { token: key })).json.data[0])?.attempts >= 1,
      5_000,
      "an attempt",
    );
    expect(delivery).toMatchObject({ status: "retrying", last_status_code: null });
    expect(delivery.last_error).toMatch(new RegExp(`^private_address: ${host.replaceAll(".", "\\.")} resolves to 10\\.0\\.0\\.7`));
    expect(await hitsAt(`${host}/h`)).toEqual([]);
  });

  it("an endpoint the operator allowed on a private name is delivered to", async () => {
    const { id: projectId } = await newProject();
    const host = await nameFor("lab", { a: ["127.0.0.1"] });
    const hook = await createWebhook(ALLOWED, projectId, { url: `http://${host}/h`, events: ["*"] });
    expect(hook.url).toBe(`http://${host}/h`);
  });
});

describe("proxy_url: the fleet would dial it, so it gets the same policy", () => {
  it("POST /instances refuses a loopback, private or inside-resolving proxy in any scheme, naming the field and the setting", async () => {
    const { api_key: key } = await newProject();
    const inside = await nameFor("proxy", { a: ["127.0.0.1"] });
    for (const proxy_url of [
      "http://127.0.0.1:3128",
      "socks5://127.0.0.1:1080",
      "socks5h://localhost.:1080",
      "https://[::1]:8443",
      "socks4://10.0.0.5:1080",
      "http://user:pass@0x7f.1:3128",
      `socks5://${inside}:1080`,
    ]) {
      const res = await call("/instances", { method: "POST", token: key, body: { name: "n", proxy_url } });
      expect(res.status, proxy_url).toBe(400);
      expect(res.json.error).toMatchObject({ code: "private_address", details: { field: "proxy_url" } });
      expectNamesTheSetting(res.json.error);
      expect(res.json.error.message).not.toContain("pass");
    }
    expect((await call("/instances", { token: key })).json.total).toBe(0);
  });

  it("takes a public proxy, and a private one when the operator allows private networks", async () => {
    const { api_key: key, id: projectId } = await newProject();
    const outside = await nameFor("proxy", { a: ["93.184.215.14"] });
    const res = await call("/instances", { method: "POST", token: key, body: { name: "n", proxy_url: `socks5://u:p@${outside}:1080` } });
    expect(res.status).toBe(201);
    const allowed = await createInstance(ALLOWED, projectId, { name: "lab", proxy_url: "socks5://127.0.0.1:1080" });
    expect(allowed.proxy_url).toBe("socks5://127.0.0.1:1080");
  });
});

describe("PATCH /instances/{id} proxy_url: a number's proxy set, changed or cleared", () => {
  it("refuses a loopback, private or inside-resolving proxy as creation does, and keeps the old one", async () => {
    const { api_key: key } = await newProject();
    const { id } = await newInstance(key);
    const inside = await nameFor("proxy", { a: ["10.1.2.3"] });
    for (const proxy_url of ["socks5://127.0.0.1:1080", "http://10.0.0.5:3128", `socks5://${inside}:1080`]) {
      const res = await call(`/instances/${id}`, { method: "PATCH", token: key, body: { proxy_url } });
      expect(res.status, proxy_url).toBe(400);
      expect(res.json.error).toMatchObject({ code: "private_address", details: { field: "proxy_url" } });
    }
    const bad = await call(`/instances/${id}`, { method: "PATCH", token: key, body: { proxy_url: "ftp://proxy.example" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe("proxy_url");
    expect((await call(`/instances/${id}`, { token: key })).json.proxy_url).toBeNull();
  });

  it("hands the new proxy to the fleet holding the number at once: its link is closed and the next grant carries it; null clears it", async () => {
    const { api_key: key } = await newProject();
    const { id } = await newInstance(key);
    const { socket } = await connectedFleet(id, { fleetId: "fleet-proxy" });
    const outside = await nameFor("proxy", { a: ["93.184.215.14"] });
    const proxy = `socks5://u:p@${outside}:1080`;

    const res = await call(`/instances/${id}`, { method: "PATCH", token: key, body: { proxy_url: proxy } });
    expect(res.status).toBe(200);
    expect(res.json.proxy_url).toBe(proxy);
    expect(await socket.closed).toMatchObject({ code: 1000, reason: "proxy changed" });
    const again = await connectInstance(id, "fleet-proxy");
    expect(await again.next()).toMatchObject({ event: "lease.granted", data: { config: { proxy_url: proxy } } });
    expect((await call("/instances", { token: key })).json.data[0].proxy_url).toBe(proxy);

    const cleared = await call(`/instances/${id}`, { method: "PATCH", token: key, body: { proxy_url: null } });
    expect(cleared.json.proxy_url).toBeNull();
    await again.closed;
    const third = await connectInstance(id, "fleet-proxy");
    expect(await third.next()).toMatchObject({ event: "lease.granted", data: { config: { proxy_url: null } } });
  });

  it("is in the OpenAPI document, with the 400 it answers", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(doc.components.schemas.UpdateInstance.properties.proxy_url.description).toContain("Private addresses are refused");
    expect(doc.paths["/instances/{id}"].patch.responses["400"]).toBeDefined();
  });
});

/**
 * Profiles on the edge (real D1, Durable Objects and R2; a fleet WebSocket on
 * the real protocol answering `profile.*` as fleet/profile.ts does, whose
 * side is tested around the socket in test/fleet/profile.test.ts and against
 * the peer in test/e2e/profile.test.ts): the number's own profile, a
 * contact's, and contacts' avatars kept in the bucket behind signed links.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { instanceOf } from "../../edge/objects/stubs.ts";
import { AVATAR_GAP_MS, AVATAR_STALE_MS, saveAvatar } from "../../edge/services/contact-avatars.ts";
import { call, closeFleetSockets, connectedFleet, countingEnv, deliver, fail, inboundMessage, newInstance, newProject, projectWithNumber, useFleetSockets, waitFor } from "./helpers.ts";

useFleetSockets();

const OWN_JID = "5511900000001@s.whatsapp.net";
const CUSTOMER = "5511988887777@s.whatsapp.net";
const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const profile = (fields: object = {}) => ({ jid: OWN_JID, name: "Loja Centro", about: "Seg a sex", about_set_at: null, picture_url: null, ...fields });

/** A fleet answering profile commands, recording what it was asked (and, for a picture, whether the file was there to fetch). */
async function profileFleet(instanceId: string, opts: { pictures?: Record<string, string | null> } = {}) {
  const asked: { method: string; params: any; stored?: number | null }[] = [];
  const fleet = await connectedFleet(instanceId, {
    methods: {
      "profile.get": (params) => {
        asked.push({ method: "profile.get", params });
        return { profile: profile() };
      },
      "profile.set": async (params) => {
        const media = params.picture?.media_id ? await env.MEDIA.get(`out/${params.picture.media_id}`) : null;
        asked.push({ method: "profile.set", params, stored: media ? (await media.arrayBuffer()).byteLength : null });
        return { profile: profile({ ...(params.name ? { name: params.name } : {}), ...(params.about !== undefined ? { about: params.about || null } : {}) }) };
      },
      "profile.contact": (params) => {
        asked.push({ method: "profile.contact", params });
        return { profile: { jid: params.jid, name: null, about: "Disponível", about_set_at: "2026-11-01T12:00:00.000Z", picture_url: "https://pps.whatsapp.net/v/t61/abc.jpg?oe=1" } };
      },
      "profile.picture": (params) => {
        asked.push({ method: "profile.picture", params });
        const base64 = opts.pictures?.[params.jid] ?? null;
        return { jid: params.jid, base64, mime_type: base64 ? "image/jpeg" : null };
      },
    },
  });
  return { ...fleet, asked };
}

const patchProfile = (key: string, id: string, body: unknown) => call(`/instances/${id}/profile`, { method: "PATCH", token: key, body });

describe("the number's own profile", () => {
  it("GET answers name, about and picture_url through the number's fleet", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    const res = await call(`/instances/${id}/profile`, { token: key });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ instance_id: id, jid: OWN_JID, name: "Loja Centro", about: "Seg a sex", picture_url: null });
    expect(fleet.asked.map((a) => a.method)).toEqual(["profile.get"]);
  });

  it("PATCH sets name and about, and a picture the fleet can fetch from the bucket until WhatsApp has it", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    const res = await patchProfile(key, id, { name: "  Loja Sul ", about: "Aberto 24h", picture: { base64: PNG_1PX } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: "Loja Sul", about: "Aberto 24h" });
    const [set] = fleet.asked;
    expect(set).toMatchObject({ method: "profile.set", params: { name: "Loja Sul", about: "Aberto 24h", picture: { media_id: expect.any(String) } } });
    expect(set!.stored).toBe(atob(PNG_1PX).length);
    // Ours was only for the fleet to fetch: gone once WhatsApp answered.
    expect(await env.MEDIA.head(`out/${set!.params.picture.media_id}`)).toBeNull();
  });

  it("PATCH picture: null removes it, and an empty about clears it; what is not given is not sent", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    expect((await patchProfile(key, id, { picture: null })).status).toBe(200);
    expect((await patchProfile(key, id, { about: "" })).status).toBe(200);
    expect(fleet.asked.map((a) => a.params)).toEqual([{ picture: null }, { about: "" }]);
  });

  it("bad input is a 400 naming the field, an oversized picture a 413 naming it, and WhatsApp is asked nothing", async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    const cases: [unknown, number, string][] = [
      [{ name: "x".repeat(26) }, 400, "name"],
      [{ name: "   " }, 400, "name"],
      [{ about: "x".repeat(140) }, 400, "about"],
      [{ about: 7 }, 400, "about"],
      [{ nickname: "Loja" }, 400, "body"],
      [{}, 400, "body"],
      [{ picture: {} }, 400, "picture.url"],
      [{ picture: { url: "https://example.com/a.png", base64: PNG_1PX } }, 400, "picture.url"],
      [{ picture: { base64: btoa("%PDF-1.4 not an image at all") } }, 400, "picture"],
      [{ picture: { base64: "***" } }, 400, "picture.base64"],
      [{ picture: { url: "http://127.0.0.1:9/me.png" } }, 400, "picture.url"],
      [{ picture: { base64: "A".repeat(7_100_000) } }, 413, "picture.base64"],
    ];
    for (const [body, status, field] of cases) {
      const res = await patchProfile(key, id, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      // An unknown key is named in the message (zod's strict objects name no path).
      const named = field === "body" ? res.json.error.message : res.json.error.details?.field;
      expect(named, JSON.stringify(body).slice(0, 80)).toContain(field === "body" ? (Object.keys(body as object)[0] ?? "at least one") : field);
      if (field !== "body") expect(res.json.error.details.field).toBe(field);
    }
    expect(fleet.asked).toEqual([]);
  });

  it("a picture WhatsApp cannot use is a 400 naming picture", async () => {
    const { key, id } = await projectWithNumber();
    await connectedFleet(id, { methods: { "profile.set": () => fail("invalid_picture", "Input buffer contains unsupported image format") } });
    const res = await patchProfile(key, id, { picture: { base64: PNG_1PX } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "unsupported_media_type", details: { field: "picture" } });
  });

  it("an offline number answers 409 not_connected; another project's number 404", async () => {
    const { key, id } = await projectWithNumber();
    const noFleet = await call(`/instances/${id}/profile`, { token: key });
    expect(noFleet.status).toBe(409);
    expect(noFleet.json.error.code).toBe("fleet_unavailable");
    // The fleet runs the number but its WhatsApp socket is down: it answers as fleet/socket-ask.ts does.
    const down = () => fail("not_connected", "the number is not connected to WhatsApp right now");
    await connectedFleet(id, { methods: { "profile.get": down, "profile.set": down } });
    const offline = await call(`/instances/${id}/profile`, { token: key });
    expect(offline.status).toBe(409);
    expect(offline.json.error.code).toBe("not_connected");
    expect((await patchProfile(key, id, { about: "x" })).json.error.code).toBe("not_connected");
    closeFleetSockets();

    const other = await newProject("other");
    const theirs = await newInstance(other.api_key);
    const fleet = await profileFleet(theirs.id);
    expect((await call(`/instances/${theirs.id}/profile`, { token: key })).status).toBe(404);
    expect((await patchProfile(key, theirs.id, { about: "x" })).status).toBe(404);
    expect(fleet.asked).toEqual([]);
  });
});

describe("the OpenAPI document", () => {
  it("documents the profile routes with their bodies and errors", async () => {
    const doc = (await call("/openapi.json")).json;
    const own = doc.paths["/instances/{id}/profile"];
    expect(Object.keys(own.get.responses).sort()).toEqual(["200", "401", "403", "404", "409", "429", "504"]);
    expect(Object.keys(own.patch.responses).sort()).toEqual(["200", "400", "401", "403", "404", "409", "413", "415", "429", "504"]);
    expect(Object.keys(doc.components.schemas.InstanceProfileChange.properties).sort()).toEqual(["about", "name", "picture"]);
    expect(doc.paths["/contacts/{id}/profile"].get.parameters.map((p: any) => p.name).sort()).toEqual(["id", "instance_id"]);
    expect(doc.components.schemas.Contact.properties.avatar_url.description).toMatch(/signed link/);
  });
});

describe("a contact's profile", () => {
  it("GET /contacts/{id}/profile asks the number that talks to them, live", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    const res = await call(`/contacts/${contactId}/profile`, { token: key });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      contact_id: contactId,
      instance_id: id,
      jid: CUSTOMER,
      about: "Disponível",
      about_set_at: "2026-11-01T12:00:00.000Z",
      picture_url: "https://pps.whatsapp.net/v/t61/abc.jpg?oe=1",
    });
    expect(fleet.asked.filter((a) => a.method === "profile.contact").map((a) => a.params)).toEqual([{ jid: CUSTOMER }]);
  });

  it("another project's contact is a 404, and a number of another project in instance_id too", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    const other = await newProject("other");
    expect((await call(`/contacts/${contactId}/profile`, { token: other.api_key })).status).toBe(404);
    const theirs = await newInstance(other.api_key);
    const res = await call(`/contacts/${contactId}/profile?instance_id=${theirs.id}`, { token: key });
    expect(res.status).toBe(404);
    expect(res.json.error.details.field).toBe("instance_id");
    expect(fleet.asked.filter((a) => a.method === "profile.contact")).toEqual([]);
  });
});

describe("contacts' avatars", () => {
  const JPEG = btoa("\xff\xd8\xff\xe0 a small jpeg");

  it("a first message fetches the picture in the background; avatar_url is a signed link to the bytes kept in R2", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id, { pictures: { [CUSTOMER]: JPEG } });
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    await gapPasses(id);
    const contact = await waitForAvatar(key, contactId);
    expect(fleet.asked.filter((a) => a.method === "profile.picture").map((a) => a.params)).toEqual([{ jid: CUSTOMER }]);
    const link = new URL(contact.avatar_url);
    expect(link.pathname).toMatch(/^\/media\/[0-9a-f-]+$/);
    expect(link.searchParams.get("sig")).toBeTruthy();
    const file = await exports.default.fetch(new Request(`http://pombo.test${link.pathname}${link.search}`));
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(Uint8Array.from(atob(JPEG), (c) => c.charCodeAt(0)));
    // Tampered, the link is refused like a media link.
    expect((await call(`${link.pathname}?exp=${link.searchParams.get("exp")}&sig=AAAA`)).status).toBe(403);
    // Signed afresh on each read, from the stored file.
    const again = (await call(`/contacts/${contactId}`, { token: key })).json;
    expect(new URL(again.avatar_url).pathname).toBe(link.pathname);
  });

  it("a customer first written to by the API gets their picture once the message is sent", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id, { pictures: { [CUSTOMER]: JPEG } });
    const sent = await call("/messages/text", { method: "POST", token: key, body: { to: CUSTOMER, body: "Seu pedido saiu" } });
    expect(sent.status).toBe(202);
    await waitFor(async () => (await env.DB.prepare("SELECT id FROM contacts WHERE project_id = ? AND jid = ?").bind(projectId, CUSTOMER).first()) !== null);
    await gapPasses(id);
    await waitForAvatar(key, await contactIdOf(projectId));
    expect(fleet.asked.filter((a) => a.method === "profile.picture").map((a) => a.params)).toEqual([{ jid: CUSTOMER }]);
  });

  it("a person whose privacy hides their photo keeps null, and is not asked again until stale", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    await gapPasses(id);
    await waitFor(async () => (await avatarRow(contactId))?.avatar_checked_at !== null, 3_000, "avatar checked");
    expect((await call(`/contacts/${contactId}`, { token: key })).json.avatar_url).toBeNull();
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "de novo" }));
    await new Promise((r) => setTimeout(r, 200));
    expect(fleet.asked.filter((a) => a.method === "profile.picture")).toHaveLength(1);
  });

  it("costs a contact's fetched picture one D1 round trip, the old one read in it; a picture for a contact deleted meanwhile leaves no file", async () => {
    const { projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id);
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    await gapPasses(id);
    await waitFor(async () => (await avatarRow(contactId))?.avatar_checked_at !== null, 3_000, "avatar checked");
    const scope = { project_id: projectId, instance_id: id };
    const counted = countingEnv();
    await saveAvatar(counted.env, scope, contactId, { jid: CUSTOMER, base64: null, mime_type: null });
    expect(counted.trips.count).toBe(1);

    const files = () => env.DB.prepare("SELECT COUNT(*) AS n FROM media WHERE project_id = ?").bind(projectId).first<number>("n");
    const before = await files();
    await saveAvatar(env, scope, "ct_deleted_meanwhile", { jid: CUSTOMER, base64: JPEG, mime_type: "image/jpeg" });
    expect(await files()).toBe(before);
  });

  it("a stale picture is fetched again on the next message, replacing the old file", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id, { pictures: { [CUSTOMER]: JPEG } });
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    await gapPasses(id);
    const first = await waitForAvatar(key, contactId);
    const oldMedia = new URL(first.avatar_url).pathname.split("/").pop()!;

    // Just short of stale: nothing is asked.
    await setCheckedAt(contactId, Date.now() - AVATAR_STALE_MS + 60_000);
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "ainda aqui" }));
    await new Promise((r) => setTimeout(r, 200));
    expect(fleet.asked.filter((a) => a.method === "profile.picture")).toHaveLength(1);

    await setCheckedAt(contactId, Date.now() - AVATAR_STALE_MS - 60_000);
    await deliver(fleet.socket, inboundMessage(CUSTOMER, { body: "voltei" }));
    await gapPasses(id);
    await waitFor(() => fleet.asked.filter((a) => a.method === "profile.picture").length === 2, 3_000, "second fetch");
    await waitFor(async () => (await avatarRow(contactId))?.avatar_media_id !== oldMedia, 3_000, "new avatar");
    const row = await avatarRow(contactId);
    expect(Date.now() - Date.parse(row!.avatar_checked_at!)).toBeLessThan(10_000);
    // The old file and its row are gone: its links answer 404.
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM media WHERE id = ?").bind(oldMedia).first("n")).toBe(0);
    expect((await call(new URL(first.avatar_url).pathname + new URL(first.avatar_url).search)).status).toBe(404);
  });

  it("a picture that cannot be had goes to the back of the queue, so the next contact's is fetched on the retry", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const BROKEN = "5511977776666@s.whatsapp.net";
    const asked: string[] = [];
    const fleet = await connectedFleet(id, {
      methods: {
        "profile.picture": ({ jid }) => {
          asked.push(jid);
          return jid === BROKEN ? fail("picture_failed", "WhatsApp's CDN answered 500") : { jid, base64: JPEG, mime_type: "image/jpeg" };
        },
      },
    });
    const stub = instanceOf(env, id);
    const attempts = () =>
      runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ attempts: number }>("SELECT attempts FROM avatar_fetches WHERE jid = ?", BROKEN).toArray()[0]?.attempts);
    await deliver(fleet.socket, inboundMessage(BROKEN));
    await gapPasses(id);
    expect(await attempts()).toBe(1);
    // Queued during the backoff: asked for no sooner than it ends (pacing; before it, a new contact started a pass at once).
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    await waitFor(async () => (await waiting(id)) === 2, 3_000, "second contact queued");
    await new Promise((r) => setTimeout(r, 200));
    expect(asked).toEqual([BROKEN]);
    // The backoff (5 s) passes: the broken one, still the oldest, fails again and goes behind the other.
    await gapPasses(id, 5_000);
    expect(asked).toEqual([BROKEN, BROKEN]);
    expect(await attempts()).toBe(2);
    // The next backoff (10 s) passes: the other contact's picture is fetched.
    await gapPasses(id, 10_000);
    await waitForAvatar(key, await contactIdOf(projectId));
    expect(asked).toEqual([BROKEN, BROKEN, CUSTOMER]);
  });

  it("deleting the contact deletes their stored picture: its link answers 404", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id, { pictures: { [CUSTOMER]: JPEG } });
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    await gapPasses(id);
    const link = new URL((await waitForAvatar(key, contactId)).avatar_url);
    const mediaId = link.pathname.split("/").pop()!;
    const { r2_key } = (await env.DB.prepare("SELECT r2_key FROM media WHERE id = ?").bind(mediaId).first<{ r2_key: string }>())!;
    expect(await env.MEDIA.head(r2_key)).not.toBeNull();
    expect((await call(`/contacts/${contactId}`, { method: "DELETE", token: key })).status).toBe(204);
    expect(await env.MEDIA.head(r2_key)).toBeNull();
    expect((await call(link.pathname + link.search)).status).toBe(404);
  });

  it("three contacts writing at once: one picture asked for per AVATAR_GAP_MS, the first only a gap after they were queued, and all three stored", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const PEOPLE = [CUSTOMER, "5511966665555@s.whatsapp.net", "5511955554444@s.whatsapp.net"];
    const fleet = await profileFleet(id, { pictures: Object.fromEntries(PEOPLE.map((jid) => [jid, JPEG])) });
    const pictures = () => fleet.asked.filter((a) => a.method === "profile.picture").map((a) => a.params.jid);
    for (const jid of PEOPLE) await deliver(fleet.socket, inboundMessage(jid));
    await waitFor(async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM contacts WHERE project_id = ?").bind(projectId).first<number>("n")) === 3, 3_000, "three contacts");
    await new Promise((r) => setTimeout(r, 200));
    expect(pictures()).toEqual([]);
    expect(await waiting(id)).toBe(3);
    // The object's alarm is what fetches: set for a gap after the first was queued.
    const stub = instanceOf(env, id);
    const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    expect(alarm! - Date.now()).toBeGreaterThan(AVATAR_GAP_MS - 1_000);

    await gapPasses(id);
    expect(pictures()).toHaveLength(1);
    // The alarm coming again before the next gap asks for nothing (waking early is harmless).
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(pictures()).toHaveLength(1);
    await gapPasses(id);
    expect(pictures()).toHaveLength(2);
    await gapPasses(id);
    expect(pictures().sort()).toEqual([...PEOPLE].sort());
    expect(await waiting(id)).toBe(0);
    for (const jid of PEOPLE) {
      const row = await env.DB.prepare("SELECT id FROM contacts WHERE project_id = ? AND jid = ?").bind(projectId, jid).first<{ id: string }>();
      await waitForAvatar(key, row!.id);
    }
  });

  it("WhatsApp's rate-overlimit holds every picture back for minutes; the contact keeps its place and its attempts", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const asked: string[] = [];
    let overlimit = true;
    const fleet = await connectedFleet(id, {
      methods: {
        "profile.picture": ({ jid }) => {
          asked.push(jid);
          return overlimit ? fail("rate_overlimit", "picture: rate-overlimit") : { jid, base64: JPEG, mime_type: "image/jpeg" };
        },
      },
    });
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    await gapPasses(id);
    expect(asked).toEqual([CUSTOMER]);
    const stub = instanceOf(env, id);
    const row = () => runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ attempts: number }>("SELECT attempts FROM avatar_fetches").toArray()[0]);
    expect(await row()).toEqual({ attempts: 0 });
    // An ordinary failure's backoff (5 s) is not enough after WhatsApp said slow down.
    await gapPasses(id, 5_000);
    expect(asked).toHaveLength(1);
    overlimit = false;
    await gapPasses(id, 2 * 60_000);
    expect(asked).toEqual([CUSTOMER, CUSTOMER]);
    await waitForAvatar(key, await contactIdOf(projectId));
  });

  it("a number that is offline fetches the picture once it is back", async () => {
    const { key, projectId, id } = await projectWithNumber();
    const fleet = await profileFleet(id, { pictures: { [CUSTOMER]: JPEG } });
    fleet.socket.event("status", { state: "disconnected", reason: "transient", jid: null });
    await waitFor(async () => (await call(`/instances/${id}`, { token: key })).json.state === "disconnected");
    await deliver(fleet.socket, inboundMessage(CUSTOMER));
    const contactId = await contactIdOf(projectId);
    // Due, but the number is away: nothing is asked, and nobody is forgotten.
    await gapPasses(id);
    expect(fleet.asked.filter((a) => a.method === "profile.picture")).toEqual([]);
    expect(await waiting(id)).toBe(1);
    fleet.socket.event("status", { state: "connected", jid: "5511900000001:1@s.whatsapp.net" });
    await waitForAvatar(key, contactId);
  });
});

async function contactIdOf(projectId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM contacts WHERE project_id = ? AND jid = ?").bind(projectId, CUSTOMER).first<{ id: string }>();
  return row!.id;
}

const avatarRow = (contactId: string) =>
  env.DB.prepare("SELECT avatar_media_id, avatar_checked_at FROM contacts WHERE id = ?").bind(contactId).first<{ avatar_media_id: string | null; avatar_checked_at: string | null }>();

const setCheckedAt = (contactId: string, at: number) =>
  env.DB.prepare("UPDATE contacts SET avatar_checked_at = ? WHERE id = ?").bind(new Date(at).toISOString(), contactId).run();

/** Contacts in the number's avatar queue. */
const waiting = (id: string) => runInDurableObject(instanceOf(env, id), (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM avatar_fetches").one().n);

/**
 * `ms` pass for the number's avatar queue (its contacts' queuing times and
 * its pace moved back by it), then its alarm rings: how the tests wait out
 * AVATAR_GAP_MS and a backoff without sleeping through them.
 */
async function gapPasses(id: string, ms = AVATAR_GAP_MS): Promise<void> {
  const stub = instanceOf(env, id);
  await waitFor(() => runInDurableObject(stub, async (_o, state) => (await state.storage.getAlarm()) !== null), 3_000, "the object's alarm set");
  await runInDurableObject(stub, async (_o, state) => {
    state.storage.sql.exec("UPDATE avatar_fetches SET queued_at = queued_at - ?", ms);
    const notBefore = await state.storage.get<number>("avatars_not_before");
    if (notBefore !== undefined) await state.storage.put("avatars_not_before", notBefore - ms);
  });
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

async function waitForAvatar(key: string, contactId: string) {
  let contact: any;
  await waitFor(async () => {
    contact = (await call(`/contacts/${contactId}`, { token: key })).json;
    return typeof contact.avatar_url === "string";
  }, 3_000, "avatar_url");
  return contact;
}

/**
 * Profiles against a real WhatsApp-protocol peer: the number's name (from
 * its session), its "about" set and read back through Baileys'
 * updateProfileStatus and fetchStatus (the peer keeps the about and answers
 * usync status queries: patched into crabline, see test/peer/peer.ts), and a
 * contact's profile asked live. Pictures and names set through app state
 * are what the peer cannot do: test/fleet/profile.test.ts covers them
 * around the socket.
 */
import { BufferJSON } from "@whiskeysockets/baileys";
import { beforeAll, describe, expect, it } from "vitest";
import { makeCreds } from "../harness/peers.ts";
import { useStack } from "../harness/use-stack.ts";
import { waitFor } from "../harness/waits.ts";

type OwnProfile = { instance_id: string; jid: string; name: string | null; about: string | null; picture_url: string | null };

describe("e2e: profiles", () => {
  const stack = useStack("profile", 1);
  let instanceId: string;
  let phone: string;

  beforeAll(async () => {
    stack.fleet();
    const peer = stack.peers.peers[0]!;
    phone = peer.phone;
    const [instance] = await stack.createInstances(1);
    instanceId = instance!.id;
    // A session whose account carries its display name, as a paired phone's does.
    const creds = JSON.parse(makeCreds(phone), BufferJSON.reviver);
    creds.me.name = "Loja Centro";
    await stack.api.importSession(instanceId, JSON.stringify(creds, BufferJSON.replacer));
    await stack.waitConnected([instanceId], 30_000);
  });

  it("GET /instances/{id}/profile answers the number's name and, before any is set, no about and no picture", async () => {
    const profile = await stack.api.call<OwnProfile>("GET", `/instances/${instanceId}/profile`, undefined, 200);
    expect(profile).toEqual({ instance_id: instanceId, jid: `${phone}@s.whatsapp.net`, name: "Loja Centro", about: null, picture_url: null });
  });

  it("PATCH about reaches WhatsApp, and reading the profile again asks WhatsApp for it back", async () => {
    const about = "Seg a sex, 9h às 18h ☀️";
    const changed = await stack.api.call<OwnProfile>("PATCH", `/instances/${instanceId}/profile`, { about }, 200);
    expect(changed.about).toBe(about);
    const read = await stack.api.call<OwnProfile>("GET", `/instances/${instanceId}/profile`, undefined, 200);
    expect(read).toMatchObject({ name: "Loja Centro", about });
  });

  it("GET /contacts/{id}/profile asks through the number that talks to the contact; nothing shared is null", async () => {
    const customer = "5511987650001@s.whatsapp.net";
    stack.peers.directory.register("5511987650001");
    await stack.peers.peers[0]!.inject({ chatJid: customer, senderJid: customer, text: "Oi", pushName: "Maria" });
    const contactId = await waitFor(
      async () => {
        const page = await stack.api.call<{ data: { id: string; jid: string }[] }>("GET", "/contacts?limit=200");
        return page.data.find((c) => c.jid === customer)?.id ?? null;
      },
      15_000,
      { what: "the customer's contact" },
    );
    const profile = await stack.api.call("GET", `/contacts/${contactId}/profile`, undefined, 200);
    expect(profile).toEqual({ contact_id: contactId, instance_id: instanceId, jid: customer, about: null, about_set_at: null, picture_url: null });
  });
});

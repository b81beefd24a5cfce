/**
 * Files clients send leave R2 OUTBOUND_MEDIA_RETENTION_DAYS after their
 * message is final (sent or failed), through the Worker's cron trigger; a
 * message still waiting keeps its file, and received files are not touched.
 * Real D1 and R2; the fleet is the test's WebSocket.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import worker from "../../edge/index.ts";
import { OUTBOUND_MEDIA_RETENTION_DAYS, purgeOutboundMedia } from "../../edge/services/media-retention.ts";
import { call, closeFleetSockets, connectedFleet, fail, messageOf, newInstance, projectWithNumber, waitFor } from "./helpers.ts";

afterEach(() => closeFleetSockets());

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAACAAFUok9dAAAAAElFTkSuQmCC";
const CUSTOMER_JID = "5511988887777@s.whatsapp.net";
const DAY_MS = 24 * 60 * 60 * 1000;

const sendImage = (key: string, id: string, caption: string) =>
  call("/messages/image", { method: "POST", token: key, body: { to: CUSTOMER_JID, instance_id: id, media: { base64: PNG, caption } } });

/** The message's file in R2, by the media id its content names. */
async function fileOf(key: string, messageId: string) {
  const message = await messageOf(key, messageId);
  const mediaId: string = message.content?.media?.media_id ?? message.media?.media_id;
  expect(mediaId, JSON.stringify(message)).toBeTruthy();
  return `out/${mediaId}`;
}

const expiryOf = (r2Key: string) =>
  env.DB.prepare("SELECT delete_after FROM outbound_media_expiry WHERE r2_key = ?").bind(r2Key).first<{ delete_after: string }>();

async function runCron() {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "23 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("outbound media retention", () => {
  it(`a sent image's file stays ${OUTBOUND_MEDIA_RETENTION_DAYS} days after it was sent, then the cron deletes it; the message keeps its description`, async () => {
    const { key, id } = await projectWithNumber();
    const fleet = await connectedFleet(id);
    const res = await sendImage(key, id, "the file");
    expect(res.status).toBe(202);
    await waitFor(async () => (await messageOf(key, res.json.id)).status === "sent", 3_000, "sent");
    const r2Key = await fileOf(key, res.json.id);
    expect(await env.MEDIA.head(r2Key)).not.toBeNull();
    expect(fleet.sends).toHaveLength(1);

    await waitFor(async () => (await expiryOf(r2Key)) !== null, 3_000, "the file's expiry");
    const due = Date.parse((await expiryOf(r2Key))!.delete_after);
    expect(due - Date.now()).toBeGreaterThan(OUTBOUND_MEDIA_RETENTION_DAYS * DAY_MS - 60_000);
    expect(due - Date.now()).toBeLessThanOrEqual(OUTBOUND_MEDIA_RETENTION_DAYS * DAY_MS);

    // Not yet: the hourly cron leaves it.
    await runCron();
    expect(await env.MEDIA.head(r2Key)).not.toBeNull();
    // Its time comes (moved here rather than waited for), and the cron takes it.
    await env.DB.prepare("UPDATE outbound_media_expiry SET delete_after = ? WHERE r2_key = ?").bind(new Date(Date.now() - 1_000).toISOString(), r2Key).run();
    await runCron();
    expect(await env.MEDIA.head(r2Key)).toBeNull();
    expect(await expiryOf(r2Key)).toBeNull();
    const message = await messageOf(key, res.json.id);
    expect(message.status).toBe("sent");
    expect(JSON.stringify(message)).toContain("the file");
  });

  it("a failed message's file goes the same way; a queued message's file and received files stay however late it is", async () => {
    const { key, id } = await projectWithNumber();
    await connectedFleet(id, { answer: (frame) => (frame.content.caption === "refused" ? fail("invalid_content") : undefined) });
    const failed = await sendImage(key, id, "refused");
    await waitFor(async () => (await messageOf(key, failed.json.id)).status === "failed", 3_000, "failed");
    const failedKey = await fileOf(key, failed.json.id);
    await waitFor(async () => (await expiryOf(failedKey)) !== null, 3_000, "the failed file's expiry");

    // Another number that no fleet runs: its message waits, queued.
    const other = await newInstance(key, "n2");
    const queued = await sendImage(key, other.id, "waiting");
    expect(queued.status).toBe(202);
    const queuedKey = await fileOf(key, queued.json.id);
    const received = `in/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    await env.MEDIA.put(received, "bytes a customer sent");

    const purged = await purgeOutboundMedia(env, Date.now() + (OUTBOUND_MEDIA_RETENTION_DAYS + 1) * DAY_MS);
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await env.MEDIA.head(failedKey)).toBeNull();
    expect(await env.MEDIA.head(queuedKey)).not.toBeNull();
    expect(await env.MEDIA.head(received)).not.toBeNull();
    expect((await messageOf(key, queued.json.id)).status).toBe("queued");
  });
});

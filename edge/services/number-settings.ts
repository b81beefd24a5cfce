/**
 * How one number behaves, beside its project's settings (`PATCH
 * /instances/{id}` `settings`). Kept by the number's Durable Object
 * (objects/instance.ts, key `number_settings`), which is where each of them
 * acts: received messages (inbound.ts: `ignore_groups`, `auto_read`) and
 * the number's presence (objects/presence.ts: `always_online`). What was
 * never set takes the default, so a number created before these existed
 * needs nothing.
 */
import { z } from "@hono/zod-openapi";
import type { Settings } from "./settings-schema.ts";

const IgnoreGroups = z.boolean().openapi({
  description:
    "true: messages in WhatsApp groups reaching this number are not stored nor announced (WhatsApp still gets its receipt, so it stops resending them). Sends to groups are unaffected.",
});
const AlwaysOnline = z.boolean().openapi({
  description:
    "true: the number shows itself online while connected (the phone then gets no notifications for it). false: it is online only while it watches someone's presence.",
});
const AutoRead = z.boolean().nullable().openapi({
  description: "Overrides the project's `auto_read` for this number: true or false; null follows the project.",
});

export const NumberSettings = z
  .object({
    ignore_groups: IgnoreGroups.default(false),
    always_online: AlwaysOnline.default(false),
    auto_read: AutoRead.default(null),
  })
  .openapi("NumberSettings");
export type NumberSettings = z.infer<typeof NumberSettings>;

export const defaultNumberSettings = (): NumberSettings => NumberSettings.parse({});

/** What `PATCH /instances/{id}` changes: any subset; what is left out stays. */
export const NumberSettingsPatch = z
  .strictObject({ ignore_groups: IgnoreGroups, always_online: AlwaysOnline, auto_read: AutoRead })
  .partial()
  .openapi("NumberSettingsPatch");
export type NumberSettingsPatch = z.infer<typeof NumberSettingsPatch>;

/** Whether the number sends read receipts by itself: its own choice, else the project's. */
export const autoReads = (number: NumberSettings, project: Settings) => number.auto_read ?? project.auto_read;

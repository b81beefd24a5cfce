/**
 * What is done to one contact (reference 001): its timeline and notes, its
 * tags and contact groups, and its privacy (opt-out, block, opt-in).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { StoredMessageStatus } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { CursorQuery, DirectionInboundFirst, IdParam, errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { ContactSchema } from "../services/contact-view.ts";
import { type EntryKind, EntryKeys, changeContactKeys, keyOf } from "../services/tags-and-contact-groups.ts";
import { type ContactAction, contactPrivacy } from "../services/privacy.ts";
import { addNote, contactHistory } from "../services/timeline.ts";

const route = operations(["Contacts"]);

const Entry = z
  .object({
    id: z.string().openapi({ description: "The message's id, or the event's." }),
    kind: z.enum(["message", "event"]),
    type: z.string().openapi({
      example: "tag_added",
      description:
        "Messages: their type (text, image, ...). Events: note, opted_out, suppressed, opted_in, status_changed, tag_added, tag_removed, group_added, group_removed.",
    }),
    direction: DirectionInboundFirst.optional().openapi({ description: "Messages only." }),
    status: StoredMessageStatus.optional().openapi({ description: "Messages only." }),
    actor: z.string().openapi({ description: "contact (they wrote it, or opted out by keyword), api, phone (the number's own app), system, admin." }),
    payload: z.record(z.string(), z.unknown()).openapi({ example: { tag: "hot-lead" } }),
    created_at: z.string(),
  })
  .openapi("TimelineEntry");

const History = z.object({ data: z.array(Entry), next_cursor: z.string().nullable() }).openapi("Timeline");

const Note = z.object({ body: z.string().trim().min(1).max(10_000) }).strict();

const Change = z
  .object({
    add: EntryKeys(100).default([]).openapi({ description: "Keys to link; unknown ones are created (named after the key)." }),
    remove: z
      .array(z.string().max(64).transform(keyOf))
      .max(100)
      .default([])
      .openapi({ description: "Keys to unlink (any case); ones the contact lacks are ignored." }),
  })
  .strict();

const contactAnswer = { 200: json(ContactSchema, "The contact as it is now"), ...errorsOf(404) };

const Why = z
  .object({
    reason: z.string().trim().min(1).max(500).optional().openapi({
      example: "asked to stop by email on 2026-07-01",
      description: "Why, in your words: kept as `note` on the suppression entry (GET /suppressions) and on the timeline event.",
    }),
  })
  .strict();

export const contactActionRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/{id}/history", "The contact's timeline: messages and events, newest first", {
      request: { params: IdParam, query: CursorQuery },
      responses: { 200: json(History, "A page of the timeline"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await contactHistory(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    route.post("/{id}/notes", "Add an internal note (in the timeline, never sent)", {
      request: { params: IdParam, body: jsonBody(Note) },
      responses: { 201: json(Entry, "The note, as the timeline shows it"), ...errorsOf(400, 404) },
    }),
    async (c) => c.json(await addNote(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json").body), 201),
  );

// Named here: the derived `postContactGroups` is already POST /contact-groups's.
const keyRoutes: [EntryKind, string, string, string][] = [
  ["tag", "tags", "changeContactTags", "Add and remove tags by key"],
  ["group", "groups", "changeContactGroups", "Add and remove contact groups by key (CRM segments, not WhatsApp groups)"],
];
for (const [kind, segment, operationId, summary] of keyRoutes) {
  contactActionRoutes.openapi(
    route.post(`/{id}/${segment}`, summary, {
      operationId,
      request: { params: IdParam, body: jsonBody(Change) },
      responses: { ...contactAnswer, ...errorsOf(400) },
    }),
    async (c) => c.json(await changeContactKeys(c.env, c.var.projectId, c.req.valid("param").id, kind, c.req.valid("json")), 200),
  );
}

const privacyRoutes: [Exclude<ContactAction, "optin">, string][] = [
  ["optout", "Opt the contact out (LGPD): status opted_out, number suppressed (reason optout); sends answer 422 recipient_opted_out"],
  ["suppress", "Block the contact here (status blocked, number suppressed, reason manual); sends answer 422 recipient_suppressed. Not a WhatsApp block"],
];
for (const [action, summary] of privacyRoutes) {
  contactActionRoutes.openapi(
    route.post(`/{id}/${action}`, summary, {
      // The body is optional: an empty POST works as before.
      request: { params: IdParam, body: { required: false, content: { "application/json": { schema: Why } } } },
      responses: { ...contactAnswer, ...errorsOf(400) },
    }),
    async (c) => c.json(await contactPrivacy(c.env, c.var.projectId, c.req.valid("param").id, action, c.req.valid("json").reason), 200),
  );
}
contactActionRoutes.openapi(
  route.post("/{id}/optin", "Reactivate the contact: off the suppression list, status active", {
    request: { params: IdParam },
    responses: contactAnswer,
  }),
  async (c) => c.json(await contactPrivacy(c.env, c.var.projectId, c.req.valid("param").id, "optin"), 200),
);
